package auth

import (
	"testing"

	"github.com/exhunt/exhunt/internal/fleet/store"
)

func TestPassword(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !CheckPassword(h, "correct horse battery") || CheckPassword(h, "correct horse batterx") || CheckPassword("$argon2id$junk", "x") {
		t.Fatal("password check")
	}
	if h2, _ := HashPassword("correct horse battery"); h2 == h {
		t.Fatal("no salt")
	}
	if _, err := HashPassword("short"); err == nil {
		t.Fatal("short password accepted")
	}
}

func TestScope(t *testing.T) {
	if s := Scope(store.User{Role: RoleViewer, Org: "uni"}); s.Org != "uni" || s.Allows("law") {
		t.Fatal(s)
	}
	if s := Scope(store.User{Role: RoleViewer}); s.Allows("uni") {
		t.Fatal("viewer without org sees uni")
	}
	if s := Scope(store.User{Role: RoleAnalyst}); !s.Allows("uni") {
		t.Fatal("analyst scope")
	}
}
