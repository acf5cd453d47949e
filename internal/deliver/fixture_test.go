package deliver_test

import (
	"os"
	"testing"

	"github.com/keyaudit/keyaudit/internal/golden"
	"github.com/keyaudit/keyaudit/report"
	"github.com/keyaudit/keyaudit/report/reporttest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// readReport reads a JSON report under testdata/.
func readReport(name string) *report.Report {
	f, err := os.Open(golden.Path(name))
	if err != nil {
		panic(err) // a file of the repository
	}
	defer f.Close()
	r, err := report.ReadReport(f)
	if err != nil {
		panic(err)
	}
	return r
}

// fixture is report's small realistic report (see report's tests): an
// active root key, a rotation for a user with a hostile name, a
// suppressed unused key, an expired suppression; an account in error and
// one skipped.
func fixture() *report.Report { return readReport("report/fixture.report.json") }

// empty is a report of one account with nothing found.
func empty() *report.Report { return readReport("report/empty.report.json") }

func accountIDs(r *report.Report) []string {
	var out []string
	for _, a := range r.Accounts {
		out = append(out, a.ID)
	}
	return out
}

var asOf = reporttest.AsOf

const (
	acctA = "111111111111"
	acctB = "222222222222"
)

func fixtureID(i int) string { return "keyaudit-" + fixture().Findings[i].Fingerprint }
