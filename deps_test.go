package dialtone_test

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyArrows keeps the layering honest: logic packages do not
// import each other, storage adapters import no logic, and only
// cmd/dialtone wires things together.
func TestDependencyArrows(t *testing.T) {
	const mod = "github.com/dialtone/dialtone"
	out, err := exec.Command("go", "list", "-json=ImportPath,Deps", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	// Each group may not depend on any package of the groups listed for it.
	forbidden := map[string][]string{
		"switch/b2bua":  {"media/", "trunks", "billing", "sqlite", "postgres", "sqlstore", "companion", "switch/edge", "switch/guard", "switch/limits", "carriersim"},
		"switch/edge":   {"media/", "trunks", "billing", "sqlite", "postgres", "sqlstore", "companion", "switch/b2bua", "switch/guard", "switch/limits", "carriersim"},
		"switch/guard":  {"switch/", "media/", "trunks", "billing", "sqlite", "postgres", "sqlstore", "companion", "carriersim"},
		"switch/limits": {"switch/", "media/", "trunks", "billing", "sqlite", "postgres", "sqlstore", "companion", "carriersim"},
		"switch/digest": {"switch/", "media/", "trunks", "billing", "sqlite", "postgres", "sqlstore", "carriersim"},
		"media/":        {"switch/", "trunks", "billing", "sqlite", "postgres", "sqlstore", "companion", "carriersim"},
		"trunks":        {"switch/", "media/", "billing", "sqlite", "postgres", "sqlstore", "companion", "carriersim"},
		"billing":       {"switch/", "media/", "trunks", "sqlite", "postgres", "sqlstore", "companion", "carriersim"},
		"sqlstore":      {"switch/", "media/", "trunks", "billing", "sqlite", "postgres", "companion", "carriersim"},
		"sqlite":        {"switch/", "media/", "trunks", "billing", "postgres", "carriersim"},
		"postgres":      {"switch/", "media/", "trunks", "billing", "sqlite", "carriersim"},
		"companion":     {"switch/", "media/", "trunks", "billing", "sqlite", "postgres", "sqlstore", "carriersim"},
		"web":           {"switch/", "media/", "trunks", "billing", "sqlite", "postgres", "sqlstore", "companion", "carriersim"},
		// The demo carrier speaks SIP and SDP (media/sdp) like a real peer
		// would; it knows nothing of the switch behind the trunk.
		"carriersim": {"switch/", "media/bridge", "media/rtp", "media/webrtc", "media/codec", "trunks", "billing", "sqlite", "postgres", "sqlstore", "companion"},
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	checked := 0
	for dec.More() {
		var p struct {
			ImportPath string
			Deps       []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("decode go list: %v", err)
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, mod), "/")
		for group, bans := range forbidden {
			if !inGroup(rel, group) {
				continue
			}
			checked++
			for _, dep := range p.Deps {
				if !strings.HasPrefix(dep, mod+"/") {
					continue
				}
				drel := strings.TrimPrefix(dep, mod+"/")
				for _, ban := range bans {
					if inGroup(drel, ban) && !inGroup(drel, group) {
						t.Errorf("%s imports %s: logic packages declare interfaces instead; cmd/dialtone wires them", rel, drel)
					}
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no package was checked: the module layout has changed")
	}
}

func inGroup(pkg, group string) bool {
	if strings.HasSuffix(group, "/") {
		return strings.HasPrefix(pkg, group)
	}
	return pkg == group || strings.HasPrefix(pkg, group+"/")
}
