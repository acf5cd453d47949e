package awssim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// operation names one API call, e.g. iam:ListAccessKeys, as IAM policies do.
type operation struct {
	service string // iam, sts, organizations, cloudtrail
	action  string
}

func (o operation) String() string { return o.service + ":" + o.action }

// jsonProtocol: IAM and STS speak the query protocol; Organizations,
// CloudTrail and any unknown X-Amz-Target speak JSON 1.1.
func (o operation) jsonProtocol() bool {
	return o.service != "iam" && o.service != "sts"
}

// apiError is an error answered on the wire, in the operation's protocol.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func newError(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

// protocolError picks the code a service family uses for the same failure:
// query services (IAM, STS) and JSON services (Organizations, CloudTrail)
// name them differently and, for some, answer different HTTP statuses.
func protocolError(op operation, queryStatus int, queryCode, jsonCode, message string) *apiError {
	if op.jsonProtocol() {
		return &apiError{status: http.StatusBadRequest, code: jsonCode, message: message}
	}
	return &apiError{status: queryStatus, code: queryCode, message: message}
}

func validationError(op operation, format string, args ...any) *apiError {
	return protocolError(op, http.StatusBadRequest, "ValidationError", "ValidationException", fmt.Sprintf(format, args...))
}

func throttlingError(op operation) *apiError {
	switch op.service {
	case "organizations":
		return newError(http.StatusBadRequest, "TooManyRequestsException", "AWS Organizations can't complete your request because another request is already in progress. Try again later.")
	case "cloudtrail":
		return newError(http.StatusBadRequest, "ThrottlingException", "Rate exceeded")
	}
	return newError(http.StatusBadRequest, "Throttling", "Rate exceeded")
}

// accessDenied has the message shape AWS uses, which people (and keyaudit's
// error explanations) read: who, which action, which resource.
func accessDenied(op operation, callerARN, action, resource, reason string) *apiError {
	msg := fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s", callerARN, action, resource)
	if reason != "" {
		msg += " " + reason
	}
	return protocolError(op, http.StatusForbidden, "AccessDenied", "AccessDeniedException", msg)
}

func queryNamespace(service string) string {
	switch service {
	case "iam":
		return "https://iam.amazonaws.com/doc/2010-05-08/"
	case "sts":
		return "https://sts.amazonaws.com/doc/2011-06-15/"
	}
	return ""
}

func writeResult(w http.ResponseWriter, op operation, requestID string, result any) {
	w.Header().Set("X-Amzn-Requestid", requestID)
	var buf bytes.Buffer
	var err error
	if op.jsonProtocol() {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		err = json.NewEncoder(&buf).Encode(result)
	} else {
		w.Header().Set("Content-Type", "text/xml")
		err = encodeQueryResult(&buf, op, requestID, result)
	}
	if err != nil {
		writeError(w, op, requestID, newError(http.StatusInternalServerError, "InternalFailure", "encode %s response: %v", op, err))
		return
	}
	w.Write(buf.Bytes())
}

// encodeQueryResult wraps result as AWS does:
// <XResponse xmlns=…><XResult>…</XResult><ResponseMetadata><RequestId>…
func encodeQueryResult(buf *bytes.Buffer, op operation, requestID string, result any) error {
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(buf)
	start := xml.StartElement{
		Name: xml.Name{Local: op.action + "Response"},
		Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: queryNamespace(op.service)}},
	}
	if err := enc.EncodeToken(start); err != nil {
		return err
	}
	if err := enc.EncodeElement(result, xml.StartElement{Name: xml.Name{Local: op.action + "Result"}}); err != nil {
		return err
	}
	meta := struct {
		RequestID string `xml:"RequestId"`
	}{requestID}
	if err := enc.EncodeElement(meta, xml.StartElement{Name: xml.Name{Local: "ResponseMetadata"}}); err != nil {
		return err
	}
	if err := enc.EncodeToken(start.End()); err != nil {
		return err
	}
	return enc.Flush()
}

func writeError(w http.ResponseWriter, op operation, requestID string, e *apiError) {
	w.Header().Set("X-Amzn-Requestid", requestID)
	if op.jsonProtocol() {
		// The SDK takes the code from this header first, then __type.
		w.Header().Set("X-Amzn-Errortype", e.code)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(e.status)
		// "Message" as Organizations spells it: its schema-based decoder
		// matches member names exactly; CloudTrail's accepts either case.
		json.NewEncoder(w).Encode(struct {
			Type    string `json:"__type"`
			Message string `json:"Message"`
		}{e.code, e.message})
		return
	}
	fault := "Sender"
	if e.status >= 500 {
		fault = "Receiver"
	}
	body := struct {
		XMLName   xml.Name `xml:"ErrorResponse"`
		Xmlns     string   `xml:"xmlns,attr,omitempty"`
		Type      string   `xml:"Error>Type"`
		Code      string   `xml:"Error>Code"`
		Message   string   `xml:"Error>Message"`
		RequestID string   `xml:"RequestId"`
	}{Xmlns: queryNamespace(op.service), Type: fault, Code: e.code, Message: e.message, RequestID: requestID}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(e.status)
	w.Write([]byte(xml.Header))
	xml.NewEncoder(w).Encode(body)
}

// isoTime formats a time as IAM and STS put it on the wire.
func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// epochSeconds is how JSON 1.1 services put times on the wire.
func epochSeconds(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

// uuid derives a stable UUID-shaped ID from s.
func uuid(s string) string {
	h := fnv.New128a()
	h.Write([]byte(s))
	b := h.Sum(nil)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// pageToken encodes a pagination position: opaque to clients, as AWS's are.
func pageToken(nums ...int) string {
	parts := make([]string, len(nums))
	for i, n := range nums {
		parts[i] = strconv.Itoa(n)
	}
	return base64.RawURLEncoding.EncodeToString([]byte("awssim:" + strings.Join(parts, ":")))
}

// parsePageToken decodes a token made by pageToken with want numbers.
func parsePageToken(tok string, want int) ([]int, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return nil, false
	}
	rest, ok := strings.CutPrefix(string(raw), "awssim:")
	parts := strings.Split(rest, ":")
	if !ok || len(parts) != want {
		return nil, false
	}
	nums := make([]int, want)
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return nil, false
		}
		nums[i] = n
	}
	return nums, true
}

// paginate returns the page of items starting at the position token names
// ("" for the first page) and the token of the next page ("" for none).
func paginate[T any](items []T, token string, size int) ([]T, string, bool) {
	start := 0
	if token != "" {
		pos, ok := parsePageToken(token, 1)
		if !ok || pos[0] > len(items) {
			return nil, "", false
		}
		start = pos[0]
	}
	end := min(start+size, len(items))
	next := ""
	if end < len(items) {
		next = pageToken(end)
	}
	return items[start:end], next, true
}
