package inventory_test

import (
	"testing"
	"time"

	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/stretchr/testify/assert"
)

var profileNow = time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)

func TestAgentKind(t *testing.T) {
	cases := map[string]inventory.Agent{
		"aws-cli/2.15.0 Python/3.11.6 Darwin/23.3.0 exe/x86_64 prompt/off command/s3.ls":                    inventory.AgentHuman,
		"aws-cli/2.15.0 md/installer#exe ua/2.0 os/linux#6.1 exec-env/AWS_ECS_EC2 md/arch#x86_64":           inventory.AgentWorkload,
		"aws-cli/2.13.0 Python/3.11.4 Linux/6.2 exe/x86_64.ubuntu.22 md/ci#github-actions":                  inventory.AgentWorkload,
		"aws-cli/2.15.0 Python/3.11.6 Linux/6.5.0-1016-azure exe/x86_64.ubuntu.22 prompt/off command/s3.cp": inventory.AgentWorkload,
		"aws-cli/2.15.0 Python/3.11.6 Windows/10 exe/AMD64 prompt/off command/s3.ls":                        inventory.AgentHuman,
		"signin.amazonaws.com":                                                     inventory.AgentHuman,
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)":                          inventory.AgentHuman,
		"aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux api/s3#1.58.2": inventory.AgentWorkload,
		"Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#5.10 md/arch#x86_64 lang/python#3.12 cfg/retry-mode#legacy": inventory.AgentWorkload,
		"APN/1.0 HashiCorp/1.0 Terraform/1.7.5 (+https://www.terraform.io) terraform-provider-aws/5.40.0":            inventory.AgentWorkload,
		"curl/8.4.0": inventory.AgentUnknown,
		"":           inventory.AgentUnknown,
	}
	for ua, want := range cases {
		assert.Equal(t, want, inventory.AgentKind(ua), "case %q", ua)
	}
}

func TestPublicIP(t *testing.T) {
	cases := map[string]bool{
		"203.0.113.10": true, "2001:db8::1": true, "10.0.4.2": false, "172.16.0.9": false, "192.168.1.1": false,
		"ec2.amazonaws.com": false, "AWS Internal": false, "": false,
	}
	for ip, want := range cases {
		assert.Equal(t, want, inventory.PublicIP(ip), "case %q", ip)
	}
}

func TestBuildProfile(t *testing.T) {
	ev := func(days float64, ip, ua string) inventory.TrailEvent {
		return inventory.TrailEvent{Time: profileNow.Add(-time.Duration(days * float64(24*time.Hour))), SourceIP: ip, Region: "eu-west-1", UserAgent: ua}
	}
	cli, sdk := "aws-cli/2.15.0 Python/3.11 Darwin/23", "aws-sdk-go-v2/1.30.3"
	events := []inventory.TrailEvent{
		ev(1, "198.51.100.7", cli), ev(2, "198.51.100.7", cli), ev(20, "203.0.113.10", sdk), ev(3, "203.0.113.10", sdk),
		ev(4, "ec2.amazonaws.com", sdk), ev(5, "10.1.2.3", sdk),
	}
	p := inventory.BuildProfile(profileNow, events, 1, false, nil)
	assert.Equal(t, []string{"198.51.100.7", "203.0.113.10"}, p.PublicIPs, "case full read: public")
	assert.Equal(t, []string{"10.1.2.3", "ec2.amazonaws.com"}, p.AWSSources, "case full read: internal")
	assert.Equal(t, []string{"198.51.100.7"}, p.NewIPs, "case full read: first seen within 7 days")
	assert.False(t, p.NewIPsUnknown, "case full read")
	assert.Equal(t, []string{cli}, p.Human, "case full read: human")
	assert.Equal(t, []string{sdk}, p.Workload, "case full read: workload")
	assert.Equal(t, 6, p.Events, "case full read: events")
	assert.Equal(t, profileNow.AddDate(0, 0, -20), p.Oldest, "case full read: oldest")

	// The budget stopped within the last 7 days: whether an IP is new is unknown.
	p = inventory.BuildProfile(profileNow, events[:2], 2, true, []string{"us-east-1"})
	assert.True(t, p.NewIPsUnknown, "case cut short: unknown")
	assert.Empty(t, p.NewIPs, "case cut short: none claimed")
	assert.Equal(t, []string{"us-east-1"}, p.UnreadRegions, "case cut short: unread regions")

	// Cut short, but reaching back past the window: knowable.
	p = inventory.BuildProfile(profileNow, events, 2, true, nil)
	assert.False(t, p.NewIPsUnknown, "case cut short past the window")
	assert.Equal(t, []string{"198.51.100.7"}, p.NewIPs, "case cut short past the window")
}
