package rules

import (
	"fmt"

	"github.com/keyaudit/keyaudit/audit/inventory"
)

// keyWithoutMFA: CIS 1.10, MFA for every console user. A console user
// without MFA who also holds an active key is two ways in, one password away.
func keyWithoutMFA(env Env, a *inventory.Account) []Finding {
	return eachUserKey(a, func(u *inventory.User, k *inventory.Key) *Finding {
		if !u.PasswordEnabled || u.MFAActive || !k.Active {
			return nil
		}
		f := newFinding(env, "key-without-mfa", a, u, k)
		f.Message = fmt.Sprintf("console user %s has no MFA device and holds active %s", u.Name, keyName(k))
		f.Recommendation = fmt.Sprintf("Enable MFA for %s (IAM console: Security credentials, Assign MFA device), or remove the console password if the user is a program: aws iam delete-login-profile --user-name %s", u.Name, shellQuote(u.Name))
		return &f
	})
}
