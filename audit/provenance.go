package audit

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/keyaudit/keyaudit/audit/inventory"
)

// KeyInfoAPI is the STS call that names the account a key belongs to.
type KeyInfoAPI interface {
	GetAccessKeyInfo(ctx context.Context, in *sts.GetAccessKeyInfoInput, optFns ...func(*sts.Options)) (*sts.GetAccessKeyInfoOutput, error)
}

// Owner sets s.OwnerAccount from STS GetAccessKeyInfo, which answers for
// any key ID, from any account, without the owner's permission. The ID's
// own encoding is only a hint; STS has the last word.
func Owner(ctx context.Context, client KeyInfoAPI, s *inventory.Sighting) error {
	out, err := client.GetAccessKeyInfo(ctx, &sts.GetAccessKeyInfoInput{AccessKeyId: aws.String(s.AccessKeyID)})
	if err != nil {
		return fmt.Errorf("ask STS whose key %s is: %w", inventory.MaskKeyID(s.AccessKeyID), Explain(err))
	}
	s.OwnerAccount = aws.ToString(out.Account)
	return nil
}

// keyDescriber is what Describe needs of the owning account's IAM.
type keyDescriber interface {
	iam.ListAccessKeysAPIClient
	GetAccessKeyLastUsed(ctx context.Context, in *iam.GetAccessKeyLastUsedInput, optFns ...func(*iam.Options)) (*iam.GetAccessKeyLastUsedOutput, error)
}

// rootUserName is what GetAccessKeyLastUsed answers as UserName for a key of
// the account's root user.
const rootUserName = "root"

// Describe fills in whose long-term key s is and its state, from the
// owning account's IAM: GetAccessKeyLastUsed names the key's user, and
// ListAccessKeys that user's keys.
func Describe(ctx context.Context, client keyDescriber, s *inventory.Sighting) error {
	used, err := client.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(s.AccessKeyID)})
	if err != nil {
		return fmt.Errorf("look up key %s in account %s: %w", inventory.MaskKeyID(s.AccessKeyID), s.OwnerAccount, Explain(err))
	}
	key := inventory.Key{ID: s.AccessKeyID, LastUsed: lastUse(used.AccessKeyLastUsed)}
	user := aws.ToString(used.UserName)
	found, err := findKey(ctx, client, user, &key)
	if err != nil {
		return fmt.Errorf("list access keys of user %q in account %s: %w", user, s.OwnerAccount, Explain(err))
	}
	s.Principal = user
	if !found && user == rootUserName {
		// The root user's key: IAM names its user "root", and an IAM user
		// called root, if there is one, does not hold it. Through a role its
		// status cannot be read (ListAccessKeys lists IAM users' keys; the
		// credential report names no key IDs): it counts as active, the
		// worst case, and says so.
		s.Principal = inventory.RootName
		key.Active, key.StatusUnknown = true, true
	}
	s.Key = &key
	return nil
}

// findKey fills k's status and creation date from the user's key list and
// reports whether the user holds k. A user that does not exist holds no key:
// it is how IAM answers for "root" in most accounts.
func findKey(ctx context.Context, client iam.ListAccessKeysAPIClient, user string, k *inventory.Key) (bool, error) {
	p := iam.NewListAccessKeysPaginator(client, &iam.ListAccessKeysInput{UserName: aws.String(user)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		var missing *types.NoSuchEntityException
		if errors.As(err, &missing) && user == rootUserName {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		for _, m := range page.AccessKeyMetadata {
			if aws.ToString(m.AccessKeyId) == k.ID {
				k.Active = m.Status == types.StatusTypeActive
				k.CreatedAt = aws.ToTime(m.CreateDate).UTC()
				return true, nil
			}
		}
	}
	return false, nil
}
