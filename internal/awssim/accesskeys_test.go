package awssim

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A plan's key calls through the real SDK, on a clock the test moves: keys
// are created at the clock's time, two at most per user; status changes
// and deletes name the user's own keys; a call signed with a key records
// its last use at the clock's time, as IAM does.
func TestKeyMutations(t *testing.T) {
	var clock atomic.Int64
	clock.Store(fixedNow().UnixNano())
	at := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	srv, _ := startChanged(t, func(*World) {}, WithClock(at))
	ctx := context.Background()
	client := iam.NewFromConfig(sdkConfig(t, srv, normalID, "us-east-1"))
	user := aws.String("alice") // one key, 30 days old

	clock.Add(int64(3 * 24 * time.Hour))
	created, err := client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: user})
	require.NoError(t, err, "create a second key")
	newID := aws.ToString(created.AccessKey.AccessKeyId)
	assert.Equal(t, at().Truncate(time.Second), aws.ToTime(created.AccessKey.CreateDate), "created at the moved clock")
	assert.Equal(t, types.StatusTypeActive, created.AccessKey.Status, "a new key is active")
	assert.NotEmpty(t, aws.ToString(created.AccessKey.SecretAccessKey), "the secret is shown once")
	_, err = client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: user})
	wantAPIError(t, err, "LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2")

	// The application calls AWS with the new key a day later.
	clock.Add(int64(24 * time.Hour))
	cfg := sdkConfig(t, srv, normalID, "eu-west-1")
	cfg.Credentials = credentials.StaticCredentialsProvider{Value: aws.Credentials{AccessKeyID: newID, SecretAccessKey: aws.ToString(created.AccessKey.SecretAccessKey)}}
	_, err = sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	require.NoError(t, err, "call with the new key")
	used, err := client.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(newID)})
	require.NoError(t, err, "last use of the new key")
	assert.Equal(t, at().Truncate(time.Second), aws.ToTime(used.AccessKeyLastUsed.LastUsedDate), "last used at the clock")
	assert.Equal(t, "sts", aws.ToString(used.AccessKeyLastUsed.ServiceName), "service")
	assert.Equal(t, "eu-west-1", aws.ToString(used.AccessKeyLastUsed.Region), "region")

	list, err := client.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: user})
	require.NoError(t, err, "list the keys")
	require.Len(t, list.AccessKeyMetadata, 2, "two keys")
	oldID := list.AccessKeyMetadata[0].AccessKeyId
	_, err = client.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: user, AccessKeyId: oldID, Status: types.StatusTypeInactive})
	require.NoError(t, err, "deactivate the old key")
	_, err = client.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: user, AccessKeyId: oldID})
	require.NoError(t, err, "delete the old key")
	_, err = client.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: user, AccessKeyId: oldID})
	wantAPIError(t, err, "NoSuchEntity", "cannot be found")
	_, err = client.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("bob"), AccessKeyId: aws.String(newID), Status: types.StatusTypeInactive})
	wantAPIError(t, err, "NoSuchEntity", "cannot be found")

	list, err = client.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: user})
	require.NoError(t, err, "list the keys again")
	require.Len(t, list.AccessKeyMetadata, 1, "one key left")
	assert.Equal(t, newID, aws.ToString(list.AccessKeyMetadata[0].AccessKeyId), "the new key is left")
	_, err = client.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: oldID})
	wantAPIError(t, err, "AccessDenied", "")
}

// Key calls and calls signed with keys run at once without a race (go
// test -race): the world's keys change under the server's state lock.
func TestKeyMutationsConcurrent(t *testing.T) {
	srv, w := startSmall(t)
	ctx := context.Background()
	client := iam.NewFromConfig(sdkConfig(t, srv, normalID, "us-east-1"))
	key := w.Account(normalID).Users[0].Keys[0]
	cfg := sdkConfig(t, srv, normalID, "us-east-1")
	cfg.Credentials = credentials.StaticCredentialsProvider{Value: aws.Credentials{AccessKeyID: key.ID, SecretAccessKey: "x"}}
	signed := sts.NewFromConfig(cfg)
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch i % 4 {
			case 0:
				// bob holds no key: one create at a time fits, two at once
				// may not, and that is IAM's answer too.
				out, err := client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("bob")})
				var limit *types.LimitExceededException
				if errors.As(err, &limit) {
					return
				}
				if err == nil {
					_, err = client.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("bob"), AccessKeyId: out.AccessKey.AccessKeyId})
				}
				assert.NoError(t, err, "create and delete")
			case 1:
				_, err := signed.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
				assert.NoError(t, err, "signed call")
			case 2:
				_, err := client.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("bob")})
				assert.NoError(t, err, "list")
			default:
				_, err := client.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(key.ID)})
				assert.NoError(t, err, "last used")
			}
		}()
	}
	wg.Wait()
}
