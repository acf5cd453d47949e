// Package audit gathers what keyaudit knows about access keys from AWS:
// targets, per-account sessions, the collectors (credential report, keys,
// last use, CloudTrail, local files) and the fan-out scheduler. It fills the
// SDK-free model in audit/inventory and knows nothing of rules.
package audit
