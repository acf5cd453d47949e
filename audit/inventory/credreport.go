package inventory

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
	"unique"
)

// The credential report's special values (IAM User Guide, "Getting
// credential reports for your AWS account").
const (
	notApplicable = "N/A"            // no key, never used, or no password
	notSupported  = "not_supported"  // the root user's password fields
	noInformation = "no_information" // password not used since IAM began tracking (October 2014)
)

// reportColumns are the columns keyaudit reads; all must be present. The
// report has 22 columns; the certificate columns are not needed and may be
// absent, as may any columns AWS adds later.
var reportColumns = []string{
	"user", "arn", "user_creation_time", "password_enabled", "password_last_used", "mfa_active",
	"access_key_1_active", "access_key_1_last_rotated", "access_key_1_last_used_date",
	"access_key_1_last_used_region", "access_key_1_last_used_service",
	"access_key_2_active", "access_key_2_last_rotated", "access_key_2_last_used_date",
	"access_key_2_last_used_region", "access_key_2_last_used_service",
}

// Input limits. IAM allows at most 5,000 users per account, and a report
// row is well under 1 KiB, so anything beyond these is not one account's
// credential report; stopping early keeps a huge file from filling memory.
const (
	MaxReportUsers = 5000
	MaxReportBytes = 16 << 20
)

// ParseCredentialReport reads an IAM credential report (CSV, as
// GetCredentialReport returns it or the console downloads it) into an
// Account. Columns are found by name; errors name the file, line and column.
// The account ID comes from the ARN column.
func ParseCredentialReport(name string, r io.Reader) (*Account, error) {
	limited := &io.LimitedReader{R: r, N: MaxReportBytes + 1}
	cr := csv.NewReader(limited)
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: empty file: not a credential report", name)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, csvError(err))
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.TrimPrefix(strings.TrimSpace(h), "\ufeff")
		if _, dup := col[h]; dup {
			// Which of the two would be read is a guess: refuse rather than judge by it.
			return nil, fmt.Errorf("%s:1: column %q appears twice: not an IAM credential report, or a damaged one", name, h)
		}
		col[h] = i
	}
	for _, c := range reportColumns {
		if _, ok := col[c]; !ok {
			return nil, fmt.Errorf("%s:1: missing column %q: not an IAM credential report, or a damaged one", name, c)
		}
	}
	acct := &Account{Status: StatusOK, Source: "credential-report:" + name, Users: []User{}}
	for {
		rec, err := cr.Read()
		if limited.N <= 0 {
			return nil, fmt.Errorf("%s: larger than %d MiB: not one account's credential report", name, MaxReportBytes>>20)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, csvError(err))
		}
		line, _ := cr.FieldPos(0)
		if len(acct.Users) >= MaxReportUsers {
			return nil, fmt.Errorf("%s:%d: more than %d users: IAM allows no more in one account, so this is not one account's credential report", name, line, MaxReportUsers)
		}
		row := reportRow{name: name, line: line, rec: rec, col: col}
		u, accountID, err := row.user()
		if err != nil {
			return nil, err
		}
		switch {
		case acct.ID == "":
			acct.ID = accountID
		case acct.ID != accountID:
			return nil, fmt.Errorf("%s:%d: user %q belongs to account %s, but earlier rows to %s: give one account's report per file", name, line, u.Name, accountID, acct.ID)
		}
		if u.Root {
			if acct.Root != nil {
				return nil, fmt.Errorf("%s:%d: a second %s row", name, line, RootName)
			}
			acct.Root = &u
			continue
		}
		acct.Users = append(acct.Users, u)
	}
	if acct.ID == "" {
		return nil, fmt.Errorf("%s: no rows after the header: a credential report always has the %s row", name, RootName)
	}
	sort.Slice(acct.Users, func(i, j int) bool { return acct.Users[i].Name < acct.Users[j].Name })
	return acct, nil
}

// csvError keeps encoding/csv's line and column, which already read well.
func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("line %d, column %d: %w (is this a CSV credential report?)", pe.Line, pe.Column, pe.Err)
	}
	return err
}

// reportRow reads the fields of one row by column name.
type reportRow struct {
	name string
	line int
	rec  []string
	col  map[string]int
}

func (r reportRow) get(column string) string { return strings.TrimSpace(r.rec[r.col[column]]) }

func (r reportRow) errorf(column, format string, args ...any) error {
	return fmt.Errorf("%s:%d: column %q: %s", r.name, r.line, column, fmt.Sprintf(format, args...))
}

// bool reads true or false in any case: GetCredentialReport writes them in
// lower case, the IAM User Guide in upper case (TRUE, FALSE).
func (r reportRow) bool(column string) (bool, error) {
	switch v := r.get(column); {
	case strings.EqualFold(v, "true"):
		return true, nil
	case strings.EqualFold(v, "false"):
		return false, nil
	default:
		return false, r.errorf(column, "bad boolean %q: want true or false", v)
	}
}

// time reads a timestamp; zero for N/A and the other special values.
func (r reportRow) time(column string) (time.Time, error) {
	v := r.get(column)
	switch v {
	case notApplicable, notSupported, noInformation, "":
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, r.errorf(column, "bad timestamp %q: want ISO 8601 such as 2024-05-01T10:00:00+00:00", v)
	}
	return t.UTC(), nil
}

func (r reportRow) user() (User, string, error) {
	// Copies: a field of rec is a slice of the whole row's text, which
	// would stay in memory with every finding that names the user.
	u := User{Name: strings.Clone(r.get("user")), ARN: strings.Clone(r.get("arn")), Keys: []Key{}}
	accountID, root, err := parseARN(u.ARN)
	if err != nil {
		return u, "", r.errorf("arn", "%v", err)
	}
	u.Root = root && u.Name == RootName
	if u.CreatedAt, err = r.time("user_creation_time"); err != nil {
		return u, "", err
	}
	if u.Root {
		// The root user always has a console password: the report says
		// not_supported rather than true.
		u.PasswordEnabled = true
	} else if pw := r.get("password_enabled"); pw != notApplicable {
		if u.PasswordEnabled, err = r.bool("password_enabled"); err != nil {
			return u, "", err
		}
	}
	if u.PasswordLastUsed, err = r.time("password_last_used"); err != nil {
		return u, "", err
	}
	if u.MFAActive, err = r.bool("mfa_active"); err != nil {
		return u, "", err
	}
	for slot := 1; slot <= 2; slot++ {
		k, ok, err := r.key(slot)
		if err != nil {
			return u, "", err
		}
		if ok {
			u.Keys = append(u.Keys, k)
		}
	}
	return u, accountID, nil
}

// key reads one key slot. A slot holds a key when it is active, or when it
// has a rotation date (an inactive key).
func (r reportRow) key(slot int) (Key, bool, error) {
	c := func(s string) string { return fmt.Sprintf("access_key_%d_%s", slot, s) }
	active, err := r.bool(c("active"))
	if err != nil {
		return Key{}, false, err
	}
	created, err := r.time(c("last_rotated"))
	if err != nil {
		return Key{}, false, err
	}
	if !active && created.IsZero() {
		return Key{}, false, nil
	}
	used, err := r.time(c("last_used_date"))
	if err != nil {
		return Key{}, false, err
	}
	k := Key{Slot: slot, Active: active, CreatedAt: created}
	if used.IsZero() {
		k.LastUsed = LastUse{Known: true, Never: true}
	} else {
		na := func(v string) string {
			if v == notApplicable {
				return ""
			}
			return unique.Make(v).Value() // a few services and regions, shared by every key
		}
		k.LastUsed = LastUse{Known: true, At: used, Service: na(r.get(c("last_used_service"))), Region: na(r.get(c("last_used_region")))}
	}
	return k, true, nil
}

// parseARN returns the account of an IAM user or root ARN, in any partition.
func parseARN(arn string) (account string, root bool, err error) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || !strings.HasPrefix(parts[1], "aws") || parts[2] != "iam" || !ValidAccountID(parts[4]) {
		return "", false, fmt.Errorf("bad ARN %q: want arn:aws:iam::123456789012:user/NAME or :root", arn)
	}
	switch res := parts[5]; {
	case res == "root":
		return parts[4], true, nil
	case strings.HasPrefix(res, "user/"):
		return parts[4], false, nil
	}
	return "", false, fmt.Errorf("bad ARN %q: not a user or the root user", arn)
}
