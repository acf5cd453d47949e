package inventory

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// Class is what an IAM user's identity policies let its keys do, from the
// worst down. It is the key's blast radius.
type Class string

const (
	ClassAdmin      Class = "administrator"        // "*" on "*"
	ClassEscalation Class = "privilege-escalation" // can grant itself more
	ClassData       Class = "broad-data"           // read data everywhere: S3, KMS, Secrets Manager
	ClassWrite      Class = "write"
	ClassReadOnly   Class = "read-only"
	ClassNone       Class = "none"
)

// Classes lists every class, worst first.
var Classes = []Class{ClassAdmin, ClassEscalation, ClassData, ClassWrite, ClassReadOnly, ClassNone}

// Rank is larger for a worse class; 0 for an unknown one.
func (c Class) Rank() int {
	if i := slices.Index(Classes, c); i >= 0 {
		return len(Classes) - i
	}
	return 0
}

// PermissionsScope says what the classification does not cover, for every
// output that shows a class.
const PermissionsScope = "identity policies only, within the permissions boundary and the service control policies along the account's path (unless the account's warnings say they could not be read); resource policies are out of scope; conditions are not evaluated (a statement with a condition counts as granted); Deny statements are subtracted only when unconditional on \"*\""

// Permissions is an IAM user's blast radius, from the identity policies
// attached to it and to its groups (GetAccountAuthorizationDetails).
type Permissions struct {
	Class Class `json:"class"`
	// Grants names what gave the class: "iam:CreateAccessKey via group
	// deployers: policy deploy".
	Grants []string `json:"grants,omitempty"`
	// Boundary is the permissions boundary's ARN; BoundaryCapped says the
	// boundary lowered the class.
	Boundary       string `json:"boundary,omitempty"`
	BoundaryCapped bool   `json:"boundary_capped,omitempty"`
	// SCPCapped says the service control policies of the account's
	// organization lowered the class further.
	SCPCapped bool `json:"scp_capped,omitempty"`
	// FromGroups: the class comes only through group membership.
	FromGroups bool `json:"from_groups,omitempty"`
	// Conditions counts Allow statements with a Condition, counted as granted.
	Conditions int `json:"conditions_not_evaluated,omitempty"`
	// Denies counts Deny statements that were noted but not subtracted.
	Denies int `json:"denies_not_subtracted,omitempty"`
	// NotActions counts Allow statements with NotAction or NotResource:
	// they grant everything not listed, and are judged so.
	NotActions int `json:"not_action_statements,omitempty"`
	// Unread names attached policies whose document could not be read;
	// the class is then a lower bound.
	Unread []string `json:"unread_policies,omitempty"`
}

// Policy is one identity policy as it applies to a user.
type Policy struct {
	// Name is the policy name; ARN is set for a managed policy.
	Name string
	ARN  string
	// Via is how it reaches the user: "" directly, or the group's name.
	Via string
	// Document is the policy JSON; empty when it could not be read.
	Document string
}

// SCPLevel is one level of an account's path in its organization (the
// root, an organizational unit, the account itself) and the service control
// policies attached to it. An action is allowed only if every level allows
// it; a Deny at any level subtracts it.
type SCPLevel struct {
	Target   string // r-…, ou-…, or the account ID
	Policies []Policy
}

func (p Policy) label() string {
	if p.Via != "" {
		return "group " + p.Via + ": " + p.Name
	}
	return p.Name
}

// DecodeDocument undoes the URL encoding IAM applies to policy documents
// in GetAccountAuthorizationDetails and GetPolicyVersion answers.
func DecodeDocument(s string) (string, error) {
	if strings.HasPrefix(strings.TrimSpace(s), "{") {
		return s, nil // already decoded (some SDKs and simulators do)
	}
	d, err := url.QueryUnescape(s)
	if err != nil {
		return "", fmt.Errorf("decode policy document: %w", err)
	}
	return d, nil
}

// statement is one policy statement; Action, Resource and their Not forms
// may be a string or a list.
type statement struct {
	Effect      string          `json:"Effect"`
	Action      stringList      `json:"Action"`
	NotAction   stringList      `json:"NotAction"`
	Resource    stringList      `json:"Resource"`
	NotResource stringList      `json:"NotResource"`
	Condition   json.RawMessage `json:"Condition"`
}

type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*l = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("expected a string or a list of strings: %w", err)
	}
	*l = many
	return nil
}

func parseStatements(doc string) ([]statement, error) {
	var d struct {
		Statement json.RawMessage `json:"Statement"`
	}
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		return nil, fmt.Errorf("parse policy document: %w", err)
	}
	var list []statement
	if err := json.Unmarshal(d.Statement, &list); err != nil {
		var one statement
		if err := json.Unmarshal(d.Statement, &one); err != nil {
			return nil, fmt.Errorf("parse policy statement: %w", err)
		}
		list = []statement{one}
	}
	return list, nil
}

// grant is one Allow statement of one policy, and the actions denied
// unconditionally on "*" by any policy of the same user.
type grant struct {
	st     statement
	policy Policy
	denied []string
}

// allows says whether the statement allows action on some resource
// (broad: on every resource of its kind).
func (g grant) allows(action string, broad bool) bool {
	if matchAny(g.denied, action) {
		return false
	}
	if len(g.st.NotAction) > 0 {
		if matchAny(g.st.NotAction, action) {
			return false
		}
	} else if !matchAny(g.st.Action, action) {
		return false
	}
	// NotResource grants every resource not listed: broad, conservatively.
	return !broad || len(g.st.NotResource) > 0 || slices.ContainsFunc(g.st.Resource, broadResource)
}

// escalation lists the published privilege-escalation actions (Rhino
// Security Labs' list, as Pacu and PMapper test them).
// The sources are cited with their cases in policy_test.go; code run on
// an instance or in a function as its role counts too (lambda, glue, ssm,
// EC2 Instance Connect).
var escalation = []string{
	"iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:UpdateLoginProfile",
	"iam:AttachUserPolicy", "iam:AttachGroupPolicy", "iam:AttachRolePolicy",
	"iam:PutUserPolicy", "iam:PutGroupPolicy", "iam:PutRolePolicy",
	"iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion",
	"iam:AddUserToGroup", "iam:UpdateAssumeRolePolicy",
	"lambda:UpdateFunctionCode", "glue:UpdateDevEndpoint", "ssm:SendCommand", "ec2-instance-connect:SendSSHPublicKey",
}

// compute are the actions that, with iam:PassRole, run code as a role.
var compute = []string{"ec2:RunInstances", "lambda:CreateFunction", "cloudformation:CreateStack", "glue:CreateDevEndpoint",
	"datapipeline:CreatePipeline", "codebuild:CreateProject", "sagemaker:CreateNotebookInstance", "ecs:RunTask"}

// dataActions read data across the account when granted on every resource.
var dataActions = []string{"s3:GetObject", "kms:Decrypt", "secretsmanager:GetSecretValue", "ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"}

// ClassifyPolicies computes a user's class from the policies that reach it
// (directly and through groups), its permissions boundary (nil: none) and
// the service control policies along its account's path (nil: none apply).
// Each limit intersects: an action counts only if the boundary and every
// SCP level allow it too. Malformed documents count as unread.
func ClassifyPolicies(policies []Policy, boundary *Policy, scps []SCPLevel) Permissions {
	p, grants := collect(policies)
	var limits [][]grant
	if boundary != nil {
		p.Boundary = boundary.ARN
		if l, ok := limit([]Policy{*boundary}); ok {
			limits = append(limits, l)
		}
	}
	byBoundary := len(limits)
	var scpNames []string
	for _, level := range scps {
		if l, ok := limit(level.Policies); ok {
			limits = append(limits, l)
			for _, pol := range level.Policies {
				if _, narrows := limit([]Policy{pol}); narrows {
					scpNames = append(scpNames, level.Target+": "+pol.Name)
				}
			}
		}
	}
	p.Class, p.Grants = classify(grants, limits)
	unlimited, _ := classify(grants, nil)
	bounded, _ := classify(grants, limits[:byBoundary])
	if byBoundary > 0 && bounded.Rank() < unlimited.Rank() {
		p.BoundaryCapped = true
		p.Grants = append(p.Grants, "within permissions boundary "+boundary.Name)
	}
	if p.Class.Rank() < bounded.Rank() {
		p.SCPCapped = true
		p.Grants = append(p.Grants, "within service control policies "+strings.Join(scpNames, ", "))
	}
	if p.Class.Rank() > ClassNone.Rank() {
		direct := slices.DeleteFunc(slices.Clone(grants), func(g grant) bool { return g.policy.Via != "" })
		c, _ := classify(direct, limits)
		p.FromGroups = c.Rank() < p.Class.Rank()
	}
	return p
}

// limit reads a boundary or one SCP level as a limit on a user's grants.
// An unread limit caps nothing that can be shown, and one that allows
// everything caps nothing at all: neither is kept.
func limit(policies []Policy) ([]grant, bool) {
	read, grants := collect(policies)
	c, _ := classify(grants, nil)
	return grants, len(read.Unread) == 0 && c != ClassAdmin
}

// collect reads the Allow statements. A Deny unconditional on "*" is
// exact: the actions it names are subtracted. Any other Deny is counted.
func collect(policies []Policy) (Permissions, []grant) {
	var p Permissions
	var allows []grant
	var denied []string
	for _, pol := range policies {
		sts, err := parseStatements(pol.Document)
		if pol.Document == "" || err != nil {
			p.Unread = append(p.Unread, pol.label())
			continue
		}
		for _, st := range sts {
			switch {
			case strings.EqualFold(st.Effect, "Deny"):
				if len(st.Condition) == 0 && len(st.NotAction) == 0 && len(st.NotResource) == 0 && slices.Contains(st.Resource, "*") {
					denied = append(denied, st.Action...)
				} else {
					p.Denies++
				}
			case strings.EqualFold(st.Effect, "Allow"):
				if len(st.Condition) > 0 {
					p.Conditions++
				}
				if len(st.NotAction) > 0 || len(st.NotResource) > 0 {
					p.NotActions++
				}
				allows = append(allows, grant{st: st, policy: pol})
			}
		}
	}
	for i := range allows {
		allows[i].denied = denied
	}
	return p, allows
}

// classify returns the worst class the grants give within every limit
// (a boundary's or an SCP level's grants; none: no limit), and what gave it.
func classify(grants []grant, limits [][]grant) (Class, []string) {
	within := func(action string, broad bool) bool {
		for _, l := range limits {
			if !slices.ContainsFunc(l, func(b grant) bool { return b.allows(action, broad) }) {
				return false
			}
		}
		return true
	}
	var why []string
	found := func(action string, broad bool) bool {
		n := len(why)
		for _, g := range grants {
			if g.allows(action, broad) && within(action, broad) {
				why = append(why, action+" via "+g.policy.label())
				break
			}
		}
		return len(why) > n
	}
	if len(limits) == 0 {
		for _, g := range grants {
			if len(g.denied) == 0 && len(g.st.NotAction) == 0 && slices.ContainsFunc(g.st.Action, func(a string) bool { return a == "*" || a == "*:*" }) &&
				(len(g.st.NotResource) > 0 || slices.Contains(g.st.Resource, "*")) {
				return ClassAdmin, []string{"\"*\" on \"*\" via " + g.policy.label()}
			}
		}
	}
	for _, a := range escalation {
		found(a, false)
	}
	if found("sts:AssumeRole", true) {
		why[len(why)-1] = "sts:AssumeRole on \"*\"" + strings.TrimPrefix(why[len(why)-1], "sts:AssumeRole")
	}
	passes := within("iam:PassRole", false) && slices.ContainsFunc(grants, func(g grant) bool { return g.allows("iam:PassRole", false) })
	if passes {
		for _, c := range compute {
			if found(c, false) {
				why[len(why)-1] = "iam:PassRole with " + why[len(why)-1]
				break
			}
		}
	}
	if len(why) > 0 {
		return ClassEscalation, why
	}
	for _, a := range dataActions {
		found(a, true)
	}
	if len(why) > 0 {
		for i := range why {
			why[i] = strings.Replace(why[i], " via ", " on \"*\" via ", 1)
		}
		return ClassData, why
	}
	for _, g := range grants {
		if w := writeAction(g, limits); w != "" {
			return ClassWrite, []string{w + " via " + g.policy.label()}
		}
	}
	for _, g := range grants {
		if len(effective(g, limits)) > 0 {
			return ClassReadOnly, []string{"read actions via " + g.policy.label()}
		}
	}
	return ClassNone, nil
}

// readVerbs begin the names of actions that only read.
var readVerbs = []string{"Get", "List", "Describe", "Head", "Lookup", "Search", "Select", "Scan", "Query", "BatchGet", "View", "Filter", "Check"}

// effective are the action patterns a grant allows that no unconditional
// Deny covers, narrowed by each limit where the limit is narrower ("*"
// within a boundary of "s3:GetObject" is "s3:GetObject").
// NotAction grants everything not listed: it stands as "*".
func effective(g grant, limits [][]grant) []string {
	actions := g.st.Action
	if len(g.st.NotAction) > 0 {
		actions = []string{"*"}
	}
	for _, l := range limits {
		actions = narrow(actions, l)
	}
	return slices.DeleteFunc(actions, func(a string) bool { return matchAny(g.denied, a) })
}

// narrow returns the parts of the action patterns that some grant of a
// limit allows, less what the limit's unconditional Denies cover.
func narrow(actions []string, limit []grant) []string {
	var out []string
	for _, a := range actions {
		for _, b := range limit {
			if len(b.st.NotAction) > 0 {
				out = append(out, a) // judged as allowed: conservative
				continue
			}
			for _, ba := range b.st.Action {
				switch {
				case wildcard(ba, a):
					out = append(out, a)
				case wildcard(a, ba):
					out = append(out, ba)
				}
			}
		}
	}
	return slices.DeleteFunc(out, func(a string) bool { return len(limit) > 0 && matchAny(limit[0].denied, a) })
}

// writeAction returns an effective action pattern of the grant that may
// write, or "".
func writeAction(g grant, limits [][]grant) string {
	if len(g.st.NotAction) > 0 && len(limits) == 0 && len(g.denied) == 0 {
		return "NotAction " + strings.Join(g.st.NotAction, ",")
	}
	for _, a := range effective(g, limits) {
		_, name, ok := strings.Cut(a, ":")
		if !ok || !slices.ContainsFunc(readVerbs, func(v string) bool { return len(name) >= len(v) && strings.EqualFold(name[:len(v)], v) }) {
			return a
		}
	}
	return ""
}

// broadResource says whether a Resource pattern covers every resource of
// its kind: "*", "arn:aws:s3:::*", "arn:aws:s3:::*/*",
// "arn:aws:iam::123456789012:role/*", "arn:*:secretsmanager:*:*:secret:*".
func broadResource(r string) bool {
	if r == "*" {
		return true
	}
	parts := strings.SplitN(r, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" {
		return false
	}
	rest := parts[5]
	if parts[2] != "s3" {
		// Past a resource type such as "role/" or "secret:", only wildcards.
		if i := strings.IndexAny(rest, "/:"); i > 0 && !strings.ContainsAny(rest[:i], "*?") {
			rest = rest[i+1:]
		}
	}
	return rest != "" && strings.Trim(rest, "*/:") == ""
}

func matchAny(patterns []string, action string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool { return wildcard(p, action) })
}

// wildcard matches IAM's "*" (any run) and "?" (one character), ignoring
// case as IAM does for actions. It compares byte by byte, lowering ASCII,
// rather than lowering whole strings: it runs for every action of every
// statement of every user's policies.
func wildcard(p, s string) bool {
	for len(p) > 0 {
		switch p[0] {
		case '*':
			for i := len(s); i >= 0; i-- {
				if wildcard(p[1:], s[i:]) {
					return true
				}
			}
			return false
		case '?':
			if s == "" {
				return false
			}
		default:
			if s == "" || lower(s[0]) != lower(p[0]) {
				return false
			}
		}
		p, s = p[1:], s[1:]
	}
	return s == ""
}

func lower(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}

// ManagedPolicies are the well-known AWS-managed policies keyaudit judges
// without reading them: their documents, reduced to what decides the
// class. AWS-managed policies are the same in every account.
var ManagedPolicies = map[string]string{
	"arn:aws:iam::aws:policy/AdministratorAccess":         `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`,
	"arn:aws:iam::aws:policy/PowerUserAccess":             `{"Statement":[{"Effect":"Allow","NotAction":["iam:*","organizations:*","account:*"],"Resource":"*"}]}`,
	"arn:aws:iam::aws:policy/IAMFullAccess":               `{"Statement":[{"Effect":"Allow","Action":["iam:*","organizations:List*","organizations:Describe*"],"Resource":"*"}]}`,
	"arn:aws:iam::aws:policy/AmazonS3FullAccess":          `{"Statement":[{"Effect":"Allow","Action":["s3:*","s3-object-lambda:*"],"Resource":"*"}]}`,
	"arn:aws:iam::aws:policy/SecretsManagerReadWrite":     `{"Statement":[{"Effect":"Allow","Action":["secretsmanager:*","kms:DescribeKey","kms:ListAliases","kms:ListKeys"],"Resource":"*"}]}`,
	"arn:aws:iam::aws:policy/AmazonEC2FullAccess":         `{"Statement":[{"Effect":"Allow","Action":["ec2:*","elasticloadbalancing:*","autoscaling:*","cloudwatch:*"],"Resource":"*"}]}`,
	"arn:aws:iam::aws:policy/AWSLambda_FullAccess":        `{"Statement":[{"Effect":"Allow","Action":["lambda:*","cloudformation:DescribeStacks","s3:ListAllMyBuckets"],"Resource":"*"},{"Effect":"Allow","Action":"iam:PassRole","Resource":"*","Condition":{"StringEquals":{"iam:PassedToService":"lambda.amazonaws.com"}}}]}`,
	"arn:aws:iam::aws:policy/ReadOnlyAccess":              `{"Statement":[{"Effect":"Allow","Action":["*:Describe*","*:List*","iam:Get*","s3:Get*","cloudtrail:LookupEvents"],"Resource":"*"}]}`,
	"arn:aws:iam::aws:policy/job-function/ViewOnlyAccess": `{"Statement":[{"Effect":"Allow","Action":["*:Describe*","*:List*","cloudtrail:LookupEvents","s3:GetBucketLocation"],"Resource":"*"}]}`,
	"arn:aws:iam::aws:policy/SecurityAudit":               `{"Statement":[{"Effect":"Allow","Action":["*:Describe*","*:List*","iam:GetAccountAuthorizationDetails","s3:GetBucketPolicy"],"Resource":"*"}]}`,
	"arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess":      `{"Statement":[{"Effect":"Allow","Action":["s3:Get*","s3:List*"],"Resource":"*"}]}`,
}
