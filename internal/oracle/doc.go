// Package oracle holds the integration suite that checks keyaudit against
// moto_server, an AWS emulator written by others: it seeds an organization
// through the real SDK, runs the built keyaudit binary against it, executes
// every rotation plan the scan prints (and the leak response that
// `keyaudit whois --leaked` prints) with the real aws CLI, and checks the
// end state. Run it alone with: go test ./internal/oracle -run TestPlans -v
package oracle
