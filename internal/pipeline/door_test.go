package pipeline_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const auditPath = "github.com/keyaudit/keyaudit/audit"

// parseDir parses the Go files of a directory, tests left out.
func parseDir(t *testing.T, fset *token.FileSet, dir string) []*ast.File {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	require.NoError(t, err, "list %s", dir)
	var files []*ast.File
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		require.NoError(t, err, "parse %s", name)
		files = append(files, f)
	}
	require.NotEmpty(t, files, "Go files in %s", dir)
	return files
}

// The entrypoints translate flags and environment, present and dispatch:
// what is done to audit goes through this package, so of audit they use
// types only, never a function, variable or constant.
func TestEntrypointsUseOnlyAuditTypes(t *testing.T) {
	fset := token.NewFileSet()
	types := map[string]bool{}
	for _, f := range parseDir(t, fset, "../../audit") {
		for _, d := range f.Decls {
			if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.TYPE {
				for _, s := range g.Specs {
					types[s.(*ast.TypeSpec).Name.Name] = true
				}
			}
		}
	}
	require.True(t, types["Target"], "audit's types read")
	checked := 0
	for _, dir := range []string{"../../cmd/keyaudit", "../../lambda"} {
		for _, f := range parseDir(t, fset, dir) {
			name := ""
			for _, imp := range f.Imports {
				if path, _ := strconv.Unquote(imp.Path.Value); path == auditPath {
					name = "audit"
					if imp.Name != nil {
						name = imp.Name.Name
					}
				}
			}
			if name == "" {
				continue
			}
			ast.Inspect(f, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == name {
					checked++
					assert.True(t, types[sel.Sel.Name], "%s: %s.%s is not a type of audit: reach it through internal/pipeline", fset.Position(sel.Pos()), name, sel.Sel.Name)
				}
				return true
			})
		}
	}
	assert.Positive(t, checked, "uses of audit's types checked")
}
