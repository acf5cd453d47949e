package awssim

import (
	"bytes"
	"encoding/csv"
	"strconv"
	"strings"
	"time"
)

// ReportHeader is the credential report's header: AWS's 22 columns, in order.
const ReportHeader = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active," +
	"access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service," +
	"access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service," +
	"cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated"

// credentialReport renders the account's credential report as IAM does:
// the root user first, then the IAM users; N/A where a value does not
// apply, no_information for a password never used, not_supported for the
// root user's password columns.
func (s *Server) credentialReport(a *account) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write(strings.Split(ReportHeader, ","))

	root := []string{RootName, "arn:aws:iam::" + a.ID + ":root", reportTime(s.at(a.CreatedDaysAgo)),
		"not_supported", s.passwordLastUsed(true, a.Root.PasswordLastUsedDaysAgo), "not_supported", "not_supported",
		strconv.FormatBool(a.Root.MFA)}
	w.Write(s.withKeys(root, a.Root.Keys))

	for _, u := range a.Users {
		changed := "N/A"
		if u.Password {
			changed = reportTime(s.at(u.CreatedDaysAgo))
		}
		row := []string{u.Name, userARN(a.ID, &u), reportTime(s.at(u.CreatedDaysAgo)),
			strconv.FormatBool(u.Password), s.passwordLastUsed(u.Password, u.PasswordLastUsedDaysAgo), changed, "N/A",
			strconv.FormatBool(u.MFA)}
		w.Write(s.withKeys(row, u.Keys))
	}
	w.Flush()
	return buf.Bytes()
}

// withKeys appends the two key slots and the (never used) certificate columns.
func (s *Server) withKeys(row []string, keys []Key) []string {
	for slot := range 2 {
		if slot >= len(keys) {
			row = append(row, "false", "N/A", "N/A", "N/A", "N/A")
			continue
		}
		k := keys[slot]
		// last_rotated is the creation or the latest activation, whichever
		// came last (the definition Trusted Advisor's key-rotation check gives).
		rotated := k.CreatedDaysAgo
		if k.ReactivatedDaysAgo != nil {
			rotated = min(rotated, *k.ReactivatedDaysAgo)
		}
		row = append(row, strconv.FormatBool(k.Status == "Active"), reportTime(s.at(rotated)))
		if k.LastUsedDaysAgo == nil {
			row = append(row, "N/A", "N/A", "N/A")
		} else {
			row = append(row, reportTime(s.at(*k.LastUsedDaysAgo)), orNA(k.LastUsedRegion), orNA(k.LastUsedService))
		}
	}
	return append(row, "false", "N/A", "false", "N/A")
}

func (s *Server) passwordLastUsed(enabled bool, days *Days) string {
	switch {
	case !enabled:
		return "N/A"
	case days == nil:
		return "no_information"
	}
	return reportTime(s.at(*days))
}

// reportTime is the report's ISO 8601 form, which differs from the API's:
// 2024-05-01T10:00:00+00:00.
func reportTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05+00:00")
}
