package inventory

import (
	"regexp"
	"slices"
	"strings"
)

// Partition is the AWS partition a region belongs to.
func Partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}

// ARNPartition is the partition an ARN names; aws when it names none known.
func ARNPartition(arn string) string {
	if parts := strings.SplitN(arn, ":", 3); len(parts) == 3 {
		switch parts[1] {
		case "aws-cn", "aws-us-gov":
			return parts[1]
		}
	}
	return "aws"
}

var regionName = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]$`)

// HomeRegion is the region where a partition's global services (IAM, and
// STS's global endpoint) log their events.
func HomeRegion(partition string) string {
	switch partition {
	case "aws-cn":
		return "cn-north-1"
	case "aws-us-gov":
		return "us-gov-west-1"
	}
	return "us-east-1"
}

// TrailRegions are the regions whose event history is searched for a key:
// the given region (or, given a partition name, none), the partition's home
// region, where IAM and the global STS endpoint log, and the region the
// key was last used in, each once.
func TrailRegions(partitionOrRegion, lastUsedRegion string) []string {
	var out []string
	add := func(r string) {
		if r != "" && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	switch partitionOrRegion {
	case "aws", "aws-cn", "aws-us-gov":
		add(HomeRegion(partitionOrRegion))
	default:
		add(partitionOrRegion)
		add(HomeRegion(Partition(partitionOrRegion)))
	}
	// A last use in another partition cannot be this key's; a value that
	// is not a region name never reaches a command a person pastes.
	if regionName.MatchString(lastUsedRegion) && Partition(lastUsedRegion) == Partition(out[0]) {
		add(lastUsedRegion)
	}
	return out
}
