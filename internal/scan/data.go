package scan

import (
	"bytes"
	"fmt"
	"io/fs"
	"strings"

	"github.com/exhunt/exhunt/internal/catalog"
	"github.com/exhunt/exhunt/internal/exchange"
	"github.com/exhunt/exhunt/rules"
)

// Data is the reference data a scan needs: the build table and the
// web-shell URL paths of Microsoft's IOC feed and the known shell names.
type Data struct {
	Builds *exchange.Table
	// Shells are URL paths such as /owa/auth/shel.aspx.
	Shells []string
}

// LoadData reads the embedded build table and IOC feed, the same files
// the hunt rules use.
func LoadData() (*Data, error) {
	f, err := rules.FS.Open("data/exchange-builds.csv")
	if err != nil {
		return nil, fmt.Errorf("build table: %w", err)
	}
	defer f.Close()
	t, err := exchange.LoadTable(f)
	if err != nil {
		return nil, err
	}
	feed, err := fs.ReadFile(rules.FS, "data/MSTICIoCs-ExchangeServerVulnerabilitiesDisclosedMarch2021.csv")
	if err != nil {
		return nil, fmt.Errorf("ioc feed: %w", err)
	}
	names, err := fs.ReadFile(rules.FS, "lists/webshell-names.txt")
	if err != nil {
		return nil, fmt.Errorf("web-shell names: %w", err)
	}
	var list []string
	for _, l := range strings.Split(string(names), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			list = append(list, l)
		}
	}
	paths, err := catalog.WebshellURLPaths(bytes.NewReader(feed), list)
	if err != nil {
		return nil, err
	}
	return &Data{Builds: t, Shells: paths}, nil
}
