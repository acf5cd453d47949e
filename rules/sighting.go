package rules

import (
	"fmt"

	"github.com/keyaudit/keyaudit/audit/inventory"
)

// sightingFinding starts a finding about a key found outside IAM.
func sightingFinding(env Env, id string, s *inventory.Sighting) Finding {
	a := &inventory.Account{ID: s.OwnerAccount, Name: s.OwnerName}
	principal := s.Principal
	if principal == "" {
		principal = "unknown"
	}
	u := &inventory.User{Name: principal, ARN: s.PrincipalARN}
	k := s.Key
	if k == nil {
		k = &inventory.Key{ID: s.AccessKeyID, Active: true}
	}
	f := newFinding(env, id, a, u, k)
	if s.Key == nil {
		f.Details.KeyActive = nil
	}
	f.Details.Source = s.Source
	return f
}

// keyLongTerm: a long-term key in a file or list is a secret that never
// expires, readable by anything that can read the file.
func keyLongTerm(env Env, s *inventory.Sighting) []Finding {
	if s.Kind != inventory.KindLongTerm {
		return nil
	}
	f := sightingFinding(env, "key-long-term", s)
	f.Message = fmt.Sprintf("long-term access key %s was found in %s", s.AccessKeyID, s.Source)
	f.Recommendation = "Use short-term credentials instead: IAM Identity Center (aws configure sso), a role with source_profile and mfa_serial, or aws-vault; then remove the key from the file and delete it."
	f.RotationPlan = []Step{
		{Action: "Set up short-term credentials for this use: IAM Identity Center, or a role assumed with MFA.", Command: "aws configure sso"},
		{Action: fmt.Sprintf("Remove the key from %s.", s.Source)},
	}
	if s.Principal != "" {
		f.RotationPlan = append(f.RotationPlan, removalPlan(&inventory.User{Name: s.Principal}, &inventory.Key{ID: s.AccessKeyID})...)
	}
	return []Finding{f}
}

// keyForeignAccount: a key of an account outside the audited set, found in
// use here, is either a vendor's or somebody's mistake; both need an owner.
func keyForeignAccount(env Env, s *inventory.Sighting) []Finding {
	if s.OwnerAccount == "" || env.Audited[s.OwnerAccount] {
		return nil
	}
	f := sightingFinding(env, "key-foreign-account", s)
	f.Details.OwnerAccount = s.OwnerAccount
	f.Message = fmt.Sprintf("access key %s, found in %s, belongs to account %s, outside the audited accounts", s.AccessKeyID, s.Source, s.OwnerAccount)
	f.Recommendation = fmt.Sprintf("Find out whose account %s is and why its key is here. If it is a vendor's, give the vendor a role to assume with an external ID instead; otherwise remove the key and ask the account's owner to delete it.", s.OwnerAccount)
	return []Finding{f}
}
