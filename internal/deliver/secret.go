package deliver

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/keyaudit/keyaudit/audit"
)

// secretReader is the part of Secrets Manager SlackFromSecret uses;
// *secretsmanager.Client satisfies it.
type secretReader interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// SlackFromSecret reads the Slack secret arn: a webhook URL, or a bot
// token posted to channel (channelSetting names where the channel is set,
// for the error when it is not). The value never leaves the Slack returned.
func SlackFromSecret(ctx context.Context, client secretReader, arn, channel, channelSetting string) (*Slack, error) {
	out, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return nil, fmt.Errorf("read the Slack secret %s: %w", arn, audit.Explain(err))
	}
	secret := strings.TrimSpace(aws.ToString(out.SecretString))
	switch {
	case IsWebhookURL(secret):
		return &Slack{WebhookURL: secret}, nil
	case strings.HasPrefix(secret, "xox") && channel == "":
		return nil, fmt.Errorf("the Slack secret holds a bot token: set %s to the channel to post to", channelSetting)
	case strings.HasPrefix(secret, "xox"):
		return &Slack{Token: secret, Channel: channel}, nil
	}
	return nil, errors.New("the Slack secret " + arn + " holds neither a webhook URL (https://hooks.slack.com/...) nor a bot token (xoxb-...)")
}

// IsWebhookURL reports whether u may be posted to as a Slack webhook: an
// https:// URL, as Slack's are. The URL is a credential; over http it
// would cross the network in the clear.
func IsWebhookURL(u string) bool { return strings.HasPrefix(u, "https://") }
