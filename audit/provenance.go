package audit

import (
	"context"
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

// Describe fills in whose long-term key s is and its state, from the
// owning account's IAM: GetAccessKeyLastUsed names the key's user, and
// ListAccessKeys that user's keys.
func Describe(ctx context.Context, client keyDescriber, s *inventory.Sighting) error {
	used, err := client.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(s.AccessKeyID)})
	if err != nil {
		return fmt.Errorf("look up key %s in account %s: %w", inventory.MaskKeyID(s.AccessKeyID), s.OwnerAccount, Explain(err))
	}
	s.Principal = aws.ToString(used.UserName)
	key := inventory.Key{ID: s.AccessKeyID, LastUsed: lastUse(used.AccessKeyLastUsed)}
	p := iam.NewListAccessKeysPaginator(client, &iam.ListAccessKeysInput{UserName: used.UserName})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list access keys of user %q in account %s: %w", s.Principal, s.OwnerAccount, Explain(err))
		}
		for _, m := range page.AccessKeyMetadata {
			if aws.ToString(m.AccessKeyId) == s.AccessKeyID {
				key.Active = m.Status == types.StatusTypeActive
				key.CreatedAt = aws.ToTime(m.CreateDate).UTC()
			}
		}
	}
	s.Key = &key
	return nil
}
