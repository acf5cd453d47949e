package awssim

import (
	"fmt"
	"math/rand/v2"
)

// AuditRole is the role keyaudit assumes in member accounts; GenerateOrg
// and the demo world create it trusting the management account.
const AuditRole = "KeyAuditRole"

// GenerateOrg returns a management account and n member accounts, each
// with usersPerAccount users, with the mix an auditor meets: most keys
// fresh and in use, some old, some unused, some never used, a few users
// with two active keys, old inactive keys, console users without MFA, and
// now and then an account with a root key or not active. Every account has
// AuditRole trusting the management account. The same seed gives the same
// world.
func GenerateOrg(n, usersPerAccount int, seed int64) *World {
	g := generator{r: rand.New(rand.NewPCG(uint64(seed), 0x6b65796175646974)), ids: map[string]bool{}}
	mgmt := g.account("org-management", 2500)
	mgmt.Management = true
	mgmt.Root = Root{MFA: true, PasswordLastUsedDaysAgo: ptr(g.between(1, 30))}
	g.populate(&mgmt, usersPerAccount)
	w := &World{Accounts: []Account{mgmt}}
	teams := []string{"payments", "search", "data", "web", "ml", "platform", "identity", "billing"}
	envs := []string{"prod", "staging", "dev", "sandbox"}
	for i := range n {
		a := g.account(fmt.Sprintf("%s-%s-%04d", teams[i%len(teams)], envs[(i/len(teams))%len(envs)], i+1), g.between(100, 2000))
		switch p := g.r.Float64(); {
		case p < 0.02:
			a.State = "SUSPENDED"
		case p < 0.03:
			a.State = "PENDING_CLOSURE"
		}
		a.Root = Root{MFA: g.r.Float64() < 0.9}
		if g.r.Float64() < 0.03 {
			a.Root.Keys = []Key{g.key(g.between(300, 1500), g.between(1, 200))}
		}
		g.populate(&a, usersPerAccount)
		w.Accounts = append(w.Accounts, a)
	}
	for i := range w.Accounts {
		w.Accounts[i].Roles = []Role{{Name: AuditRole, Trust: []string{mgmt.ID}}}
		grant(&w.Accounts[i])
	}
	w.AWSPolicies = map[string]string{sqsFull: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sqs:*"],"Resource":"*"}]}`}
	if err := w.Normalize(); err != nil {
		panic("awssim.GenerateOrg: " + err.Error()) // the generator's own bug
	}
	return w
}

type generator struct {
	r   *rand.Rand
	ids map[string]bool
}

func (g *generator) between(lo, hi float64) Days { return lo + g.r.Float64()*(hi-lo) }

func (g *generator) account(name string, createdDaysAgo Days) Account {
	for {
		id := fmt.Sprintf("%012d", 100000000000+g.r.Int64N(900000000000))
		if !g.ids[id] {
			g.ids[id] = true
			return Account{ID: id, Name: name, CreatedDaysAgo: createdDaysAgo}
		}
	}
}

func ptr[T any](v T) *T { return &v }

// sqsFull is an AWS-managed policy keyaudit does not know by heart: the
// ranking reads it once per run.
const sqsFull = "arn:aws:iam::aws:policy/AmazonSQSFullAccess"

// grant gives the account's users their permissions by position, drawing
// nothing from the generator so that worlds stay as they were: a group of
// administrators, power users through a group, read-only users, an inline
// policy, a customer-managed one and an AWS-managed one outside
// keyaudit's table.
func grant(a *Account) {
	app := "arn:aws:iam::" + a.ID + ":policy/app"
	a.Groups = []Group{
		{Name: "admins", Grants: Grants{Attached: []string{"arn:aws:iam::aws:policy/AdministratorAccess"}}},
		{Name: "developers", Grants: Grants{Attached: []string{"arn:aws:iam::aws:policy/PowerUserAccess"}}},
	}
	a.Policies = []Policy{{Name: "app", Document: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::app-*/*"}]}`}}
	for j := range a.Users {
		u := &a.Users[j]
		switch j % 6 {
		case 0:
			u.Groups = []string{"admins"}
		case 1:
			u.Attached = []string{"arn:aws:iam::aws:policy/ReadOnlyAccess"}
		case 2:
			u.Groups = []string{"developers"}
		case 3:
			u.Inline = map[string]string{"deploy": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:PassRole","lambda:CreateFunction"],"Resource":"*"}]}`}
		case 4:
			u.Attached = []string{app}
		case 5:
			u.Attached = []string{sqsFull}
		}
	}
}

// populate gives the account its users and their CloudTrail events.
func (g *generator) populate(a *Account, users int) {
	for j := range users {
		a.Users = append(a.Users, g.user(j))
	}
	g.events(a)
}

// key returns an active key created and last used the given days ago.
func (g *generator) key(created, lastUsed Days) Key {
	services := []string{"s3", "ec2", "sts", "dynamodb", "sqs", "lambda", "logs", "ecr"}
	regions := []string{"us-east-1", "us-east-1", "us-west-2", "eu-west-1"}
	return Key{
		Status:          "Active",
		CreatedDaysAgo:  created,
		LastUsedDaysAgo: ptr(min(lastUsed, created)),
		LastUsedService: services[g.r.IntN(len(services))],
		LastUsedRegion:  regions[g.r.IntN(len(regions))],
	}
}

func (g *generator) user(j int) User {
	services := []string{"ci-deploy", "terraform", "backup", "monitoring", "etl", "github-actions", "legacy-app", "reporting"}
	people := []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"}
	u := User{CreatedDaysAgo: g.between(30, 1500)}
	person := j%3 == 2
	pool := services
	if person {
		pool = people
		u.Password = true
		u.MFA = g.r.Float64() < 0.75
		if g.r.Float64() < 0.9 {
			u.PasswordLastUsedDaysAgo = ptr(g.between(0, min(u.CreatedDaysAgo, 60)))
		}
	}
	k := j - j/3 // this user's place among the service users
	if person {
		k = j / 3
	}
	u.Name = pool[k%len(pool)]
	if round := k / len(pool); round > 0 {
		u.Name = fmt.Sprintf("%s-%d", u.Name, round+1)
	}
	if person && g.r.Float64() < 0.6 {
		return u // console only
	}
	maxAge := u.CreatedDaysAgo
	switch p := g.r.Float64(); {
	case p < 0.60: // fresh and in use
		u.Keys = []Key{g.key(g.between(1, min(80, maxAge)), g.between(0, 3))}
	case p < 0.75: // past rotation, still in use
		u.Keys = []Key{g.key(g.between(91, max(92, maxAge)), g.between(0, 5))}
	case p < 0.85: // unused for weeks
		u.Keys = []Key{g.key(g.between(60, max(61, maxAge)), g.between(46, 400))}
	case p < 0.93: // never used
		k := g.key(g.between(5, min(300, maxAge)), 0)
		k.LastUsedDaysAgo, k.LastUsedService, k.LastUsedRegion = nil, "", ""
		u.Keys = []Key{k}
	default: // deactivated long ago, never deleted
		k := g.key(g.between(200, max(201, maxAge)), g.between(100, 600))
		k.Status = "Inactive"
		u.Keys = []Key{k}
	}
	u.CreatedDaysAgo = max(u.CreatedDaysAgo, u.Keys[0].CreatedDaysAgo)
	if g.r.Float64() < 0.06 { // mid-rotation: a second active key
		u.Keys = append(u.Keys, g.key(g.between(0, min(30, u.Keys[0].CreatedDaysAgo)), 0.5))
	}
	return u
}

// events gives some keys used in the last 90 days a few CloudTrail events.
func (g *generator) events(a *Account) {
	calls := []struct{ name, source string }{
		{"ListBuckets", "s3.amazonaws.com"}, {"PutObject", "s3.amazonaws.com"}, {"DescribeInstances", "ec2.amazonaws.com"},
		{"GetCallerIdentity", "sts.amazonaws.com"}, {"AssumeRole", "sts.amazonaws.com"}, {"Query", "dynamodb.amazonaws.com"},
	}
	agents := []string{
		"aws-cli/2.15.0 Python/3.11.6 Linux/6.5.0 exe/x86_64.ubuntu.22",
		"Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#5.10 lang/python#3.11.6 Botocore/1.34.0",
		"APN/1.0 HashiCorp/1.0 Terraform/1.7.5 (+https://www.terraform.io) terraform-provider-aws/5.40.0",
	}
	for _, u := range a.Users {
		for slot, k := range u.Keys {
			if k.LastUsedDaysAgo == nil || *k.LastUsedDaysAgo > 90 || g.r.Float64() > 0.3 {
				continue
			}
			agent, ip := agents[g.r.IntN(len(agents))], fmt.Sprintf("198.51.100.%d", 1+g.r.IntN(254))
			for e := range 1 + g.r.IntN(3) {
				c := calls[g.r.IntN(len(calls))]
				a.Events = append(a.Events, Event{
					DaysAgo: min(*k.LastUsedDaysAgo+float64(e), k.CreatedDaysAgo), User: u.Name, Key: slot + 1, Name: c.name, Source: c.source,
					Region: k.LastUsedRegion, SourceIP: ip, UserAgent: agent,
				})
			}
		}
	}
}
