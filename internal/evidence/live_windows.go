//go:build windows

package evidence

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"unsafe"

	"github.com/exhunt/exhunt/internal/finding"
)

const (
	setupKey   = `SOFTWARE\Microsoft\ExchangeServer\v15\Setup`
	setupValue = "MsiInstallPath"
)

// Live finds the evidence of the Exchange server exhunt runs on: the
// Logging folder of the install path recorded by Exchange setup in the
// registry, the IIS logs at %SystemDrive%\inetpub\logs\LogFiles, and the
// places the file hunt reads: the install's FrontEnd\HttpProxy and
// ClientAccess web roots, inetpub\wwwroot, the Temporary ASP.NET Files
// folders, IIS's configuration, ProgramData, Windows\Temp, C:\root,
// C:\Users\Public and Windows\debug (msert logs). Everything is one
// server, named after the host. What cannot be found or read is a gap; the
// error is non-nil only when ctx is cancelled.
//
// Logs moved elsewhere by an administrator (custom IIS log folder,
// Set-*VirtualDirectory -LogFilePath) and web roots of other sites are not
// looked for.
func Live(ctx context.Context, opt Options) (*Set, error) {
	host, err := os.Hostname()
	if err != nil {
		host = ""
	}
	var gaps []finding.Gap
	var dirs []liveDir
	if install, err := installPath(); err != nil {
		gaps = append(gaps, finding.Gap{Server: host, File: `HKLM\` + setupKey + `\` + setupValue,
			Reason: "Exchange install path not found, Exchange logs and web roots not read: " + err.Error()})
	} else {
		dirs = append(dirs,
			liveDir{path: filepath.Join(install, "Logging"), what: "log folder"},
			liveDir{path: filepath.Join(install, "FrontEnd", "HttpProxy"), what: "web root"},
			liveDir{path: filepath.Join(install, "ClientAccess"), what: "web root"})
	}
	drive := envOr("SystemDrive", "C:")
	windir := envOr("SystemRoot", drive+`\Windows`)
	dirs = append(dirs,
		liveDir{path: drive + `\inetpub\logs\LogFiles`, what: "log folder"},
		liveDir{path: drive + `\inetpub\wwwroot`, what: "web root"},
		liveDir{path: windir + `\System32\inetsrv\config`, what: "IIS configuration folder"},
		// the event logs in use: read in place (the service shares them
		// for reading); a file it holds exclusively becomes a gap
		liveDir{path: windir + `\System32\winevt\Logs`, what: "event log folder"},
		liveDir{path: envOr("ProgramData", drive+`\ProgramData`), what: "folder"},
		liveDir{path: windir + `\Temp`, what: "folder"},
		liveDir{path: windir + `\debug`, what: "folder", optional: true},
		liveDir{path: drive + `\root`, what: "folder", optional: true},
		liveDir{path: envOr("PUBLIC", drive+`\Users\Public`), what: "folder", optional: true},
	)
	for _, fw := range []string{"Framework64", "Framework"} {
		for _, v := range []string{"v4.0.30319", "v2.0.50727"} {
			dirs = append(dirs, liveDir{path: windir + `\Microsoft.NET\` + fw + `\` + v + `\Temporary ASP.NET Files`, what: "folder", optional: true})
		}
	}
	return liveSet(ctx, host, dirs, gaps, opt)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// installPath reads Exchange's install folder (it ends with a backslash)
// from the 64-bit registry view, also when exhunt is a 32-bit build.
//
// The standard syscall package is enough for one string value;
// golang.org/x/sys v0.49.0 would force go.mod to "go 1.26.0".
func installPath() (string, error) {
	var k syscall.Handle
	err := syscall.RegOpenKeyEx(syscall.HKEY_LOCAL_MACHINE, syscall.StringToUTF16Ptr(setupKey), 0,
		syscall.KEY_QUERY_VALUE|syscall.KEY_WOW64_64KEY, &k)
	if err != nil {
		return "", fmt.Errorf("open registry key: %w", err)
	}
	defer syscall.RegCloseKey(k)
	name := syscall.StringToUTF16Ptr(setupValue)
	buf := make([]uint16, 260)
	for {
		var typ uint32
		n := uint32(len(buf) * 2) // in bytes
		err := syscall.RegQueryValueEx(k, name, nil, &typ, (*byte)(unsafe.Pointer(&buf[0])), &n)
		if err == syscall.ERROR_MORE_DATA && len(buf) < 1<<15 {
			buf = make([]uint16, n/2+1)
			continue
		}
		if err != nil {
			return "", fmt.Errorf("read registry value: %w", err)
		}
		if typ != syscall.REG_SZ && typ != syscall.REG_EXPAND_SZ {
			return "", fmt.Errorf("registry value has type %d, not a string", typ)
		}
		p := syscall.UTF16ToString(buf[:n/2])
		if p == "" {
			return "", errors.New("registry value is empty")
		}
		return p, nil
	}
}
