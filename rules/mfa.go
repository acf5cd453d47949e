package rules

import (
	"github.com/keyaudit/keyaudit/audit/inventory"
)

// keyWithoutMFA: CIS "ensure MFA is enabled for all IAM users that have a
// console password". A console user without MFA who also holds an active
// key is two ways in, one password away.
func keyWithoutMFA(env Env, a *inventory.Account) []Finding {
	return eachUserKey(a, func(u *inventory.User, k *inventory.Key) *Finding {
		if !u.PasswordEnabled || u.MFAActive || !k.Active {
			return nil
		}
		f := newFinding(env, a, u, k)
		f.Message = "active key of a console user with no MFA device"
		f.Recommendation = "Enable MFA for the user (IAM console: Security credentials, Assign MFA device), or, if the user is a program, remove its console password (aws iam delete-login-profile)."
		return &f
	})
}
