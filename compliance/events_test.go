package compliance

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestAuditedEventsMatchTheInstaller reads the installer's source for
// the audit events it writes and compares them with auditedEvents, which
// the report states as what ferry logs on every appliance: an event
// added to the installer and not to the list (or the reverse) would make
// the report say something untrue.
func TestAuditedEventsMatchTheInstaller(t *testing.T) {
	written := map[string]bool{}
	var kinds, suffixes []string
	fset := token.NewFileSet()
	err := filepath.WalkDir(filepath.Join("..", "installer"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			var arg int
			name := calledName(call)
			switch name {
			case "Audit":
				arg = 0
			case "appendAudit":
				arg = 2
			case "BeginTxn":
				if s, ok := stringLit(call.Args[0]); ok {
					kinds = append(kinds, s)
				}
				return true
			default:
				return true
			}
			if len(call.Args) <= arg {
				return true
			}
			if s, ok := stringLit(call.Args[arg]); ok {
				written[s] = true
			} else if b, ok := call.Args[arg].(*ast.BinaryExpr); ok && b.Op == token.ADD {
				// txn.Kind + ".recovered": one event per kind of transaction.
				if s, ok := stringLit(b.Y); ok {
					suffixes = append(suffixes, s)
				}
			} else if _, ok := call.Args[arg].(*ast.Ident); !ok || name != "appendAudit" {
				t.Errorf("%s: an audit event whose name this test cannot read", fset.Position(call.Pos()))
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(kinds) == 0 || len(suffixes) == 0 || len(written) < 10 {
		t.Fatalf("read too little of the installer: kinds %v, suffixes %v, %d events", kinds, suffixes, len(written))
	}
	for _, k := range kinds {
		for _, s := range suffixes {
			written[k+s] = true
		}
	}
	listed := auditedEvents()
	for e := range written {
		if !slices.Contains(listed, e) {
			t.Errorf("the installer writes %q, which auditedEvents does not list", e)
		}
	}
	for _, e := range listed {
		if !written[e] {
			t.Errorf("auditedEvents lists %q, which the installer does not write", e)
		}
	}
}

func calledName(call *ast.CallExpr) string {
	switch f := call.Fun.(type) {
	case *ast.Ident:
		return f.Name
	case *ast.SelectorExpr:
		return f.Sel.Name
	}
	return ""
}

func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}
