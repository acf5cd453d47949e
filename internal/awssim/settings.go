package awssim

import (
	"encoding/json"
	"net/http"
)

type getSecretValueOutput struct {
	ARN          string
	Name         string
	SecretString string
}

// getSecretValue answers Secrets Manager GetSecretValue from the caller's
// account's Secrets, by name or ARN.
func (s *Server) getSecretValue(r *request) (any, error) {
	var in struct{ SecretId string }
	if err := json.Unmarshal(r.body, &in); err != nil {
		return nil, validationError(r.op, "malformed request: %v", err)
	}
	v, ok := r.account.Secrets[in.SecretId]
	if !ok {
		return nil, newError(http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
	}
	return getSecretValueOutput{ARN: in.SecretId, Name: in.SecretId, SecretString: v}, nil
}

type ssmParameter struct {
	Name  string
	Type  string
	Value string
}

// getParameter answers SSM GetParameter from the caller's account's Parameters.
func (s *Server) getParameter(r *request) (any, error) {
	var in struct{ Name string }
	if err := json.Unmarshal(r.body, &in); err != nil {
		return nil, validationError(r.op, "malformed request: %v", err)
	}
	v, ok := r.account.Parameters[in.Name]
	if !ok {
		return nil, newError(http.StatusBadRequest, "ParameterNotFound", "")
	}
	return struct{ Parameter ssmParameter }{ssmParameter{Name: in.Name, Type: "String", Value: v}}, nil
}
