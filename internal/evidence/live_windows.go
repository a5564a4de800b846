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

	"exhunt/internal/finding"
)

const (
	setupKey   = `SOFTWARE\Microsoft\ExchangeServer\v15\Setup`
	setupValue = "MsiInstallPath"
)

// Live finds the logs of the Exchange server exhunt runs on: the Logging
// folder of the install path recorded by Exchange setup in the registry, and
// the IIS logs at %SystemDrive%\inetpub\logs\LogFiles. Everything is one
// server, named after the host. What cannot be found or read is a gap; the
// error is non-nil only when ctx is cancelled.
//
// Logs moved elsewhere by an administrator (custom IIS log folder,
// Set-*VirtualDirectory -LogFilePath) are not looked for.
func Live(ctx context.Context, opt Options) (*Set, error) {
	host, err := os.Hostname()
	if err != nil {
		host = ""
	}
	var gaps []finding.Gap
	var dirs []string
	if install, err := installPath(); err != nil {
		gaps = append(gaps, finding.Gap{Server: host, File: `HKLM\` + setupKey + `\` + setupValue,
			Reason: "Exchange install path not found, Exchange logs not read: " + err.Error()})
	} else {
		dirs = append(dirs, filepath.Join(install, "Logging"))
	}
	drive := os.Getenv("SystemDrive")
	if drive == "" {
		drive = "C:"
	}
	dirs = append(dirs, drive+`\inetpub\logs\LogFiles`)
	return liveSet(ctx, host, dirs, gaps, opt)
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
