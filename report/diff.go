package report

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/rules"
)

// ErrNewerSchema marks an earlier report written by a newer keyaudit: its
// findings may not mean what this version thinks, so it is not compared.
var ErrNewerSchema = errors.New("was written by a newer keyaudit")

// Changes is what a run changed since the run it is compared with.
type Changes struct {
	// Compared is false when there was no earlier run to compare with, or
	// it could not be compared (Refused): nothing is new then, and the
	// message lists what is open instead.
	Compared bool
	// Refused says why the earlier run was not compared (errors.Is
	// ErrNewerSchema); nil when it was compared or there was none.
	Refused error
	// Added are open findings that the earlier run did not have open.
	Added []rules.Finding
	// Resolved are open findings of the earlier run that are gone from an
	// account audited ok tonight.
	Resolved []rules.Finding
	// Suppressed are open findings of the earlier run that a suppression
	// covers tonight: accepted, not fixed, so never counted as resolved.
	Suppressed []rules.Finding
}

// Diff compares tonight's run with an earlier one by fingerprint, per
// account, so that only what is known is news:
//   - an account the earlier run audited ok is compared finding by finding;
//   - an account the earlier run lists as error or skipped has an unknown
//     state: its findings are neither new nor resolved (they may have been
//     announced before it failed);
//   - an account the earlier run does not list was never audited ok: its
//     open findings are new;
//   - a finding counts as resolved only when it is gone from an account
//     audited ok tonight: an account that could not be audited has
//     resolved nothing, and a finding now suppressed is still there.
//
// The earlier run is best the baseline returned by Baseline, which keeps
// for every account its last ok state, so that an account in error last
// night, or left out of a single-account run, is still compared with what
// was known of it.
//
// A report of a newer schema_version is not compared: Refused says so.
func Diff(prev, cur *Report) Changes {
	if prev == nil {
		return Changes{}
	}
	if err := checkSchema(prev.SchemaVersion); err != nil {
		return Changes{Refused: fmt.Errorf("the earlier report %w", err)}
	}
	before, now := accountStatus(prev), accountStatus(cur)
	openBefore := map[string]bool{}
	for _, f := range prev.Findings {
		if f.Suppressed == nil {
			openBefore[f.Fingerprint] = true
		}
	}
	ch := Changes{Compared: true}
	present := map[string]bool{}
	for _, f := range cur.Findings {
		present[f.Fingerprint] = true
		status, listed := before[f.AccountID]
		switch {
		case f.Suppressed != nil && openBefore[f.Fingerprint]:
			ch.Suppressed = append(ch.Suppressed, f)
		case f.Suppressed == nil && !openBefore[f.Fingerprint] && (!listed || status == inventory.StatusOK):
			ch.Added = append(ch.Added, f)
		}
	}
	for _, f := range prev.Findings {
		if f.Suppressed == nil && !present[f.Fingerprint] && now[f.AccountID] == inventory.StatusOK {
			ch.Resolved = append(ch.Resolved, f)
		}
	}
	return ch
}

// Baseline is what is known of every account once cur is announced: each
// account audited ok tonight with tonight's findings, and every other
// account as base last knew it (its last ok run's entry and findings).
// Accounts never audited ok are left out, so that their findings are new
// when they first are. It is stored as announced.json and is what the next
// run is compared with. A base of a newer schema_version is not carried.
func Baseline(base, cur *Report) *Report {
	if base != nil && checkSchema(base.SchemaVersion) != nil {
		base = nil
	}
	now := accountStatus(cur)
	out := &Report{SchemaVersion: cur.SchemaVersion, RunID: cur.RunID, GeneratedAt: cur.GeneratedAt, AsOf: cur.AsOf, Demo: cur.Demo,
		Accounts: []Account{}, Findings: []rules.Finding{}}
	for _, a := range cur.Accounts {
		if a.Status == inventory.StatusOK {
			out.Accounts = append(out.Accounts, a)
		}
	}
	// Findings of no listed account (keys found in files) belong to the run.
	for _, f := range cur.Findings {
		if s, listed := now[f.AccountID]; s == inventory.StatusOK || !listed {
			out.Findings = append(out.Findings, f)
		}
	}
	if base != nil {
		for _, a := range base.Accounts {
			if now[a.ID] != inventory.StatusOK {
				out.Accounts = append(out.Accounts, a)
			}
		}
		listed := accountStatus(base)
		for _, f := range base.Findings {
			if _, ok := listed[f.AccountID]; ok && now[f.AccountID] != inventory.StatusOK {
				out.Findings = append(out.Findings, f)
			}
		}
	}
	slices.SortStableFunc(out.Accounts, func(a, b Account) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortStableFunc(out.Findings, func(a, b rules.Finding) int { return cmp.Compare(a.AccountID, b.AccountID) })
	out.Summary = Summarize(out.Findings, out.Accounts)
	return out
}

// accountStatus maps each account a report lists to its status.
func accountStatus(r *Report) map[string]inventory.Status {
	m := make(map[string]inventory.Status, len(r.Accounts))
	for _, a := range r.Accounts {
		m[a.ID] = a.Status
	}
	return m
}

// MaxReportBytes is the largest JSON report ReadReport reads, 1 GiB: a
// finding with its plan is about 4 KB of JSON, so this holds some 240,000
// open findings (10,000 accounts). Anything larger is not a report keyaudit
// wrote, and reading on would only exhaust memory.
const MaxReportBytes = 1 << 30

// ErrTooLarge marks a file past MaxReportBytes.
var ErrTooLarge = errors.New("is too large to be a keyaudit report")

// ReadReport reads a JSON report of an earlier run, at most MaxReportBytes.
// A report whose schema_version this keyaudit cannot read is returned with
// only that version, so that Diff refuses to compare with it rather than
// misread it.
func ReadReport(rd io.Reader) (*Report, error) {
	return readReport(rd, MaxReportBytes)
}

func readReport(rd io.Reader, limit int64) (*Report, error) {
	// A decoder, not io.ReadAll: it stops at the first byte that cannot
	// start a report (/dev/zero fails at once) and never holds more than
	// the one value it reads.
	lr := &io.LimitedReader{R: rd, N: limit + 1}
	dec := json.NewDecoder(lr)
	var data json.RawMessage
	err := dec.Decode(&data)
	if err == nil {
		if _, more := dec.Token(); more != io.EOF {
			err = errors.New("more follows the report")
		}
	}
	switch {
	case lr.N <= 0:
		return nil, fmt.Errorf("%w (more than %d MiB)", ErrTooLarge, limit>>20)
	case err != nil:
		return nil, fmt.Errorf("not a keyaudit JSON report: %w", err)
	}
	var head struct {
		SchemaVersion string `json:"schema_version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("not a keyaudit JSON report: %w", err)
	}
	if checkSchema(head.SchemaVersion) != nil {
		return &Report{SchemaVersion: head.SchemaVersion}, nil
	}
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("not a keyaudit JSON report of schema_version %q: %w", head.SchemaVersion, err)
	}
	return &r, nil
}

// ReadFindings reads of an earlier run's JSON report, at most
// MaxReportBytes, only what the next run carries over (Diff, CarryOver,
// Security Hub's fallback baseline): its version, as-of, accounts and
// findings. The plans, the ranking and the rest, most of a large report,
// are stepped over as they are read, never held: a whole report of 10,000
// accounts takes hundreds of MiB beside the run's own. A version this
// keyaudit cannot read is returned alone, as ReadReport does.
func ReadFindings(rd io.Reader) (*Report, error) { return readLimited(rd, lean{}) }

// ReadRanking reads of a JSON report, as ReadFindings does, its ranking,
// each key without its factors, and of its findings only those keep
// accepts: what judging one event needs of the last nightly report (a
// key's place among the organization's keys, a finding's first sighting)
// without holding the organization's findings.
func ReadRanking(rd io.Reader, keep func(*rules.Finding) bool) (*Report, error) {
	return readLimited(rd, lean{keep: keep, risk: true})
}

// readLimited reads what l keeps of at most MaxReportBytes of a report.
func readLimited(rd io.Reader, l lean) (*Report, error) {
	lr := &io.LimitedReader{R: rd, N: MaxReportBytes + 1}
	r, err := readLean(json.NewDecoder(lr), l)
	switch {
	case lr.N <= 0:
		return nil, fmt.Errorf("%w (more than %d MiB)", ErrTooLarge, MaxReportBytes>>20)
	case err != nil:
		return nil, fmt.Errorf("not a keyaudit JSON report: %w", err)
	}
	return r, nil
}

// lean says what readLean keeps besides the version, as-of and accounts:
// the findings keep accepts (nil: all), and the ranking without factors.
type lean struct {
	keep func(*rules.Finding) bool
	risk bool
}

func readLean(dec *json.Decoder, l lean) (*Report, error) {
	if err := expectDelim(dec, '{'); err != nil {
		return nil, err
	}
	r := &Report{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		switch key {
		case "schema_version":
			if err := dec.Decode(&r.SchemaVersion); err != nil {
				return nil, err
			}
			if checkSchema(r.SchemaVersion) != nil {
				return &Report{SchemaVersion: r.SchemaVersion}, nil
			}
		case "as_of":
			err = dec.Decode(&r.AsOf)
		case "accounts":
			err = dec.Decode(&r.Accounts)
		case "findings":
			// One finding at a time: the decoder buffers a value whole.
			if err := expectDelim(dec, '['); err != nil {
				return nil, err
			}
			for dec.More() {
				var f rules.Finding
				if err := dec.Decode(&f); err != nil {
					return nil, err
				}
				if l.keep == nil || l.keep(&f) {
					r.Findings = append(r.Findings, f)
				}
			}
			err = expectDelim(dec, ']')
		case "risk":
			if !l.risk {
				err = skipValue(dec)
				break
			}
			r.Risk, err = readRisk(dec)
		default:
			err = skipValue(dec)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("more follows the report")
	}
	if r.SchemaVersion == "" {
		return nil, errors.New("no schema_version")
	}
	return r, nil
}

// readRisk reads a ranking one key at a time, leaving out its factors.
func readRisk(dec *json.Decoder) ([]rules.Risk, error) {
	if err := expectDelim(dec, '['); err != nil {
		return nil, err
	}
	var out []rules.Risk
	for dec.More() {
		var k struct {
			Rank        int    `json:"rank"`
			AccountID   string `json:"account_id"`
			Principal   string `json:"principal"`
			AccessKeyID string `json:"access_key_id"`
			KeySlot     int    `json:"key_slot"`
			Score       int    `json:"score"`
		}
		if err := dec.Decode(&k); err != nil {
			return nil, err
		}
		out = append(out, rules.Risk{Rank: k.Rank, AccountID: k.AccountID, Principal: k.Principal, AccessKeyID: k.AccessKeyID, KeySlot: k.KeySlot, Score: k.Score})
	}
	return out, expectDelim(dec, ']')
}

// expectDelim reads the delimiter want, or says what stood there.
func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("expected %q, found %v", want, tok)
	}
	return nil
}

// skipValue reads past one value token by token, holding none of it.
func skipValue(dec *json.Decoder) error {
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}

// checkSchema accepts the report schema versions this keyaudit reads: its
// own major version and older ones, compared as numbers ("10" > "9").
func checkSchema(v string) error {
	major, ok := schemaMajor(v)
	own, _ := schemaMajor(SchemaVersion)
	switch {
	case !ok:
		return fmt.Errorf("has schema_version %q, which keyaudit never wrote", v)
	case major > own:
		return fmt.Errorf("%w (schema_version %q; this one reads up to %q)", ErrNewerSchema, v, SchemaVersion)
	}
	return nil
}

// schemaMajor is the number before any dot of a schema version.
func schemaMajor(v string) (int, bool) {
	major, _, _ := strings.Cut(v, ".")
	n, err := strconv.Atoi(major)
	return n, err == nil && n >= 1
}
