// Package golden compares test output with checked-in files under
// testdata/, regenerated with `make update-golden` (UPDATE_GOLDEN=1).
package golden

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/keyaudit/keyaudit/report"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// UpdateEnv names the environment variable that rewrites golden files. An
// environment variable rather than a -update flag: `go test ./...` passes
// a flag to every package, and those that do not import this one reject it.
const UpdateEnv = "UPDATE_GOLDEN"

// Dir is the repository's top-level testdata directory.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata")
}

// Path returns the path of a file under the top-level testdata directory.
func Path(name string) string { return filepath.Join(Dir(), name) }

// Assert compares got with testdata/NAME, or rewrites that file when
// UPDATE_GOLDEN is set.
func Assert(t testing.TB, name string, got []byte) {
	t.Helper()
	path := Path(name)
	if os.Getenv(UpdateEnv) != "" {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatalf("create the directory of %s: %v", name, err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatalf("rewrite %s: %v", name, err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file %s (run `make update-golden` to create it): %v", name, err)
	}
	if string(got) != string(want) {
		t.Errorf("output differs from %s (run `make update-golden` if the change is intended)\n--- got ---\n%s\n--- want ---\n%s", name, got, want)
	}
}

// ValidReport checks a JSON report against report/schema.json.
func ValidReport(t testing.TB, data []byte) {
	t.Helper()
	// Plain Errorf: callers pass fakes of testing.TB to watch it fail.
	if err := validate(data); err != nil {
		t.Errorf("report does not match report/schema.json: %v", err)
	}
}

func validate(data []byte) error {
	schemaDoc, err := jsonschema.UnmarshalJSON(bytes.NewReader(report.Schema))
	if err != nil {
		return err
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("schema.json", schemaDoc); err != nil {
		return err
	}
	sch, err := c.Compile("schema.json")
	if err != nil {
		return err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return err
	}
	return sch.Validate(doc)
}

// OCSFSchema compiles the vendored JSON Schema of the OCSF 1.6.0 Detection
// Finding class (testdata/ocsf), which every OCSF event must match.
func OCSFSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(Path("ocsf/detection_finding.schema.json"))
	if err != nil {
		t.Fatalf("open the vendored OCSF schema: %v", err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("parse the vendored OCSF schema: %v", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("detection_finding.schema.json", doc); err != nil {
		t.Fatalf("add the OCSF schema: %v", err)
	}
	sch, err := c.Compile("detection_finding.schema.json")
	if err != nil {
		t.Fatalf("compile the OCSF schema: %v", err)
	}
	return sch
}
