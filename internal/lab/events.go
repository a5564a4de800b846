package lab

import (
	"cmp"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/exhunt/exhunt/internal/evtx"
	"github.com/exhunt/exhunt/internal/finding"
)

// Windows event logs: each server gets Application, System, Security and
// MSExchange Management logs, and Sysmon's on every other server (the rest
// audit process creation in the Security log instead, with command lines),
// written as .evtx where Windows keeps them. Background events are the
// everyday noise of an Exchange server, benign look-alikes of the attack
// events included (IIS compiling pages, UM starting its worker, exports to
// a file share, diagnostics dumps of w3wp); attack scenarios add the events
// their steps leave, each with the findings it must give: exhunt's event
// rules and the shipped Sigma rules whose logic covers it.

const winevtDir = "C/Windows/System32/winevt/Logs"

// Event channels and the file each is kept in.
const (
	chApplication = "Application"
	chSecurity    = "Security"
	chSystem      = "System"
	chManagement  = "MSExchange Management"
	chSysmon      = "Microsoft-Windows-Sysmon/Operational"
)

func channelFile(ch string) string { return strings.ReplaceAll(ch, "/", "%4") + ".evtx" }

// Rule ids for event findings. Sigma rules are named as the hunter names
// them, "sigma:<id>".
const (
	ruleWorkerChild = "exchange-worker-child-process"
	ruleLsassDump   = "lsass-memory-dump"
	ruleProcDump    = "process-memory-dump-comsvcs"
	ruleArchive     = "mailbox-archive-staging"
	ruleUMCast      = "cve-2021-26857-um-invalid-cast"
	ruleUMCrash     = "um-worker-crash"
	ruleVdirEvent   = "vdir-script-cmdlet-event"
	ruleLogCleared  = "event-log-cleared"
	sigmaChopper    = "sigma:fa3c117a-bc0d-416e-a31b-0c0e80653efb" // Chopper Webshell Process Pattern
	sigmaWebChild   = "sigma:8202070f-edeb-4d31-a010-a26c72ac5600" // Suspicious Process By Web Server Process
	sigmaComsvcs    = "sigma:646ea171-dded-4578-8a4d-65e9822892e3" // Process Memory Dump Via Comsvcs.DLL
	// on Sysmon 10
	sigmaLsassComsvcs = "sigma:a49fa4d5-11db-418c-8473-1e014a8dd462" // Lsass Memory Dump via Comsvcs DLL
	sigmaHafnium      = "sigma:bbb2dedd-a0e3-46ab-ba6c-6c82ae7a9aa7" // HAFNIUM Exchange Exploitation Activity
	sigmaOabVdir      = "sigma:550d3350-bb8a-4ff3-9533-2ba533f4a1c0" // ProxyLogon MSExchange OabVirtualDirectory
	sigmaSetOabURL    = "sigma:9db37458-4df2-46a5-95ab-307e7f29e675" // Exchange Set OabVirtualDirectory ExternalUrl Property
	// on IIS logs
	sigmaProxyShellOK = "sigma:992be1eb-e5da-437e-9a54-6d13b57bb4d8" // Successful Exchange ProxyShell Attack
)

type evExpect struct {
	rule  string
	stage finding.Stage
}

// winEvent is an event waiting to be written, with the findings it gives.
type winEvent struct {
	ch  string
	ev  evtx.WEvent
	exp []evExpect
}

var (
	imgCmd      = `C:\Windows\System32\cmd.exe`
	imgPS       = `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`
	imgW3wp     = `C:\Windows\System32\inetsrv\w3wp.exe`
	imgRundll   = `C:\Windows\System32\rundll32.exe`
	imgLsass    = `C:\Windows\system32\lsass.exe`
	imgConhost  = `C:\Windows\System32\conhost.exe`
	imgWerFault = `C:\Windows\System32\WerFault.exe`
	imgSvchost  = `C:\Windows\System32\svchost.exe`
	exBin       = `C:\Program Files\Microsoft\Exchange Server\V15\Bin\`
	imgUMWorker = exBin + `UMWorkerProcess.exe`
	imgUMSvc    = exBin + `UMService.exe`
)

func w3wpCmdline(pool string) string {
	return `c:\windows\system32\inetsrv\w3wp.exe -ap "` + pool + `" -v "v4.0" -c "C:\Program Files\Microsoft\Exchange Server\V15\bin\GenericAppPoolConfigWithGCServerEnabledFalse.config" -a \\.\pipe\iisipm` +
		`9a7c1c42-7b4e-4cc4-9a0e-6c1b5f5a3d21 -h "C:\inetpub\temp\apppools\` + pool + `\` + pool + `.config" -w "" -m 0`
}

// addEvent queues an event. Its time is clamped into the span the other
// logs cover when written, so event logs never reach back further.
func (g *gen) addEvent(ch string, t int64, ev evtx.WEvent, exp ...evExpect) {
	ev.Time = toTime(t)
	ev.Channel = ch
	ev.Computer = g.fqdn
	g.winEvents = append(g.winEvents, winEvent{ch: ch, ev: ev, exp: exp})
}

// sysmon reports whether the server runs Sysmon (every other one does).
func (g *gen) sysmon() bool { return g.idx%2 == 0 }

// comsvcsTrace is the call stack Sysmon records when comsvcs.dll's
// MiniDump opens the process it dumps.
const comsvcsTrace = `C:\Windows\SYSTEM32\ntdll.dll+9fc24|C:\Windows\System32\KERNELBASE.dll+2b2ce|C:\Windows\System32\comsvcs.dll+4b9b5|C:\Windows\System32\rundll32.exe+3bd4|C:\Windows\System32\KERNEL32.DLL+17bd4|C:\Windows\SYSTEM32\ntdll.dll+6ced1`

// processAccess records Sysmon event 10: source opened the process with
// id target, with full access, from the given call stack.
func (g *gen) processAccess(t int64, source string, target int, targetImage, user, trace string, exp ...evExpect) {
	src := uint32(1000 + g.rng.IntN(30000))
	g.addEvent(chSysmon, t, evtx.WEvent{
		Provider: "Microsoft-Windows-Sysmon", ProviderGUID: "{5770385F-C22A-43E0-BF4C-06F5698FFBD9}",
		EventID: 10, Version: 3, Level: 4, Task: 10, Keywords: 0x8000000000000000,
		ProcessID: 2916, ThreadID: 4120, UserID: "S-1-5-18",
		Data: []evtx.Data{
			{Name: "RuleName", Value: "-"},
			{Name: "UtcTime", Value: toTime(t).Format("2006-01-02 15:04:05.000")},
			{Name: "SourceProcessGUID", Value: evtx.GUID(g.newGUID().String())},
			{Name: "SourceProcessId", Value: src},
			{Name: "SourceThreadId", Value: src + 4},
			{Name: "SourceImage", Value: source},
			{Name: "TargetProcessGUID", Value: evtx.GUID(g.newGUID().String())},
			{Name: "TargetProcessId", Value: uint32(target)},
			{Name: "TargetImage", Value: targetImage},
			{Name: "GrantedAccess", Value: "0x1FFFFF"},
			{Name: "CallTrace", Value: trace},
			{Name: "SourceUser", Value: user},
			{Name: "TargetUser", Value: user},
		},
	}, exp...)
}

// proc records a process start: Sysmon event 1 on servers that run
// Sysmon, Security event 4688 with the command line on the others.
func (g *gen) proc(t int64, image, cmdline, parent, parentCmd, user string, exp ...evExpect) {
	pid := uint32(1000 + g.rng.IntN(30000))
	ppid := uint32(1000 + g.rng.IntN(30000))
	if g.sysmon() {
		g.addEvent(chSysmon, t, evtx.WEvent{
			Provider: "Microsoft-Windows-Sysmon", ProviderGUID: "{5770385F-C22A-43E0-BF4C-06F5698FFBD9}",
			EventID: 1, Version: 5, Level: 4, Task: 1, Keywords: 0x8000000000000000,
			ProcessID: 2916, ThreadID: 4120, UserID: "S-1-5-18",
			Data: []evtx.Data{
				{Name: "RuleName", Value: "-"},
				{Name: "UtcTime", Value: toTime(t).Format("2006-01-02 15:04:05.000")},
				{Name: "ProcessGuid", Value: evtx.GUID(g.newGUID().String())},
				{Name: "ProcessId", Value: pid},
				{Name: "Image", Value: image},
				{Name: "FileVersion", Value: "10.0.17763.1 (WinBuild.160101.0800)"},
				{Name: "Description", Value: "-"},
				{Name: "Product", Value: "Microsoft® Windows® Operating System"},
				{Name: "Company", Value: "Microsoft Corporation"},
				{Name: "OriginalFileName", Value: path.Base(strings.ReplaceAll(image, `\`, "/"))},
				{Name: "CommandLine", Value: cmdline},
				{Name: "CurrentDirectory", Value: `C:\Windows\system32\`},
				{Name: "User", Value: user},
				{Name: "LogonGuid", Value: evtx.GUID(g.newGUID().String())},
				{Name: "LogonId", Value: evtx.Hex64(0x3e7)},
				{Name: "TerminalSessionId", Value: uint32(0)},
				{Name: "IntegrityLevel", Value: "System"},
				{Name: "Hashes", Value: "SHA256=" + strings.ToUpper(g.randString(64, hexDigits))},
				{Name: "ParentProcessGuid", Value: evtx.GUID(g.newGUID().String())},
				{Name: "ParentProcessId", Value: ppid},
				{Name: "ParentImage", Value: parent},
				{Name: "ParentCommandLine", Value: parentCmd},
				{Name: "ParentUser", Value: user},
			},
		}, exp...)
		return
	}
	g.addEvent(chSecurity, t, evtx.WEvent{
		Provider: "Microsoft-Windows-Security-Auditing", ProviderGUID: "{54849625-5478-4994-A5BA-3E3B0328C30D}",
		EventID: 4688, Version: 2, Task: 13312, Keywords: 0x8020000000000000, ProcessID: 4, ThreadID: 88,
		Data: []evtx.Data{
			{Name: "SubjectUserSid", Value: evtx.SID("S-1-5-18")},
			{Name: "SubjectUserName", Value: strings.ToUpper(g.name) + "$"},
			{Name: "SubjectDomainName", Value: "CONTOSO"},
			{Name: "SubjectLogonId", Value: evtx.Hex64(0x3e7)},
			{Name: "NewProcessId", Value: evtx.Hex64(pid)},
			{Name: "NewProcessName", Value: image},
			{Name: "TokenElevationType", Value: "%%1936"},
			{Name: "ProcessId", Value: evtx.Hex64(ppid)},
			{Name: "CommandLine", Value: cmdline},
			{Name: "TargetUserSid", Value: evtx.SID("S-1-0-0")},
			{Name: "TargetUserName", Value: "-"},
			{Name: "TargetDomainName", Value: "-"},
			{Name: "TargetLogonId", Value: evtx.Hex64(0)},
			{Name: "ParentProcessName", Value: parent},
			{Name: "MandatoryLabel", Value: evtx.SID("S-1-16-16384")},
		},
	}, exp...)
}

// cmdletEvent is an MSExchange Management event 1 ("Cmdlet succeeded"):
// unnamed values, cmdlet, parameters as the shell shows them, caller,
// SIDs, client application and process id.
func (g *gen) cmdletEvent(t int64, name, params, caller, client string, exp ...evExpect) {
	g.addEvent(chManagement, t, evtx.WEvent{
		Provider: "MSExchange CmdletLogs", EventID: 1, HasQualifiers: true, Qualifiers: 0x4000,
		Level: 4, Task: 1, Keywords: 0x80000000000000, ProcessID: 10544,
		Data: []evtx.Data{
			{Value: name}, {Value: params}, {Value: caller},
			{Value: domainSID + "500"}, {Value: "S-1-5-18"}, {Value: client},
			{Value: strconv.Itoa(9000 + g.rng.IntN(9000))},
		},
	}, exp...)
}

// appEvent is a classic Application log event with unnamed values.
func (g *gen) appEvent(t int64, provider string, id uint16, level uint8, qual uint16, data []string, exp ...evExpect) {
	ev := evtx.WEvent{Provider: provider, EventID: id, HasQualifiers: true, Qualifiers: qual, Level: level, Keywords: 0x80000000000000}
	for _, d := range data {
		ev.Data = append(ev.Data, evtx.Data{Value: d})
	}
	g.addEvent(chApplication, t, ev, exp...)
}

// eventBackground spreads everyday events over the span the logs cover.
func (g *gen) eventBackground() {
	if g.last <= g.first {
		return
	}
	n := int(min(max(g.budget/4000, 200), 20000))
	span := g.last - g.first
	for range n {
		t := g.first + g.rng.Int64N(span)
		g.benignEvent(t)
	}
}

// benignEvent writes one everyday event, look-alikes of attack events
// among them.
func (g *gen) benignEvent(t int64) {
	u := g.users[g.rng.IntN(len(g.users))]
	switch r := g.rng.IntN(100); {
	case r < 18:
		// ASP.NET compiling pages in an Exchange pool
		pool := []string{"MSExchangeOWAAppPool", "MSExchangeECPAppPool", "MSExchangeServicesAppPool"}[g.rng.IntN(3)]
		tmp := g.randString(8, "abcdefghijklmnopqrstuvwxyz0123456789")
		g.proc(t, `C:\Windows\Microsoft.NET\Framework64\v4.0.30319\csc.exe`,
			`"C:\Windows\Microsoft.NET\Framework64\v4.0.30319\csc.exe" /noconfig /fullpaths @"C:\Windows\Microsoft.NET\Framework64\v4.0.30319\Temporary ASP.NET Files\owa\`+tmp+`.cmdline"`,
			imgW3wp, w3wpCmdline(pool), `NT AUTHORITY\SYSTEM`)
	case r < 30:
		g.proc(t, imgConhost, `\??\C:\Windows\system32\conhost.exe 0xffffffff -ForceV1`, imgCmd, `C:\Windows\system32\cmd.exe /c ""C:\Program Files\Microsoft\Exchange Server\V15\Scripts\CheckDatabaseRedundancy.ps1""`, `NT AUTHORITY\SYSTEM`)
	case r < 38:
		g.proc(t, `C:\Windows\System32\taskhostw.exe`, `taskhostw.exe -RegisterDevice -ProtectionStateChanged -FreeNetworkOnly`, imgSvchost, `C:\Windows\system32\svchost.exe -k netsvcs -p -s Schedule`, `NT AUTHORITY\SYSTEM`)
	case r < 42:
		// UM starts its worker; crashes report through WerFault
		if g.rng.IntN(2) == 0 {
			g.proc(t, imgUMWorker, `"`+imgUMWorker+`" 1235 1236 `+g.newGUID().String(), imgUMSvc, `"`+imgUMSvc+`"`, `NT AUTHORITY\SYSTEM`)
		} else {
			g.proc(t, imgWerFault, `C:\Windows\system32\WerFault.exe -u -p `+strconv.Itoa(2000+g.rng.IntN(9000))+` -s 1984`, imgW3wp, w3wpCmdline("MSExchangeOWAAppPool"), `NT AUTHORITY\SYSTEM`)
		}
	case r < 44:
		// an administrator opens the Exchange Management Shell, or takes a
		// diagnostics dump of a hung worker
		if g.rng.IntN(2) == 0 {
			g.proc(t, imgPS, `C:\Windows\system32\WindowsPowerShell\v1.0\powershell.exe -noexit -command ". 'C:\Program Files\Microsoft\Exchange Server\V15\bin\RemoteExchange.ps1'; Connect-ExchangeServer -auto -ClientApplication:ManagementShell "`,
				`C:\Windows\explorer.exe`, `C:\Windows\Explorer.EXE`, `CONTOSO\`+g.admins[0].sam)
		} else {
			g.proc(t, `C:\Tools\procdump64.exe`, `procdump64.exe -accepteula -ma w3wp.exe C:\Dumps\w3wp_owa.dmp`, imgCmd, `"C:\Windows\system32\cmd.exe"`, `CONTOSO\`+g.admins[0].sam)
		}
	case r < 60:
		g.addEvent(chSecurity, t, evtx.WEvent{
			Provider: "Microsoft-Windows-Security-Auditing", ProviderGUID: "{54849625-5478-4994-A5BA-3E3B0328C30D}",
			EventID: 4624, Version: 2, Task: 12544, Keywords: 0x8020000000000000, ProcessID: 712, ThreadID: 2264,
			Data: []evtx.Data{
				{Name: "SubjectUserSid", Value: evtx.SID("S-1-0-0")}, {Name: "SubjectUserName", Value: "-"},
				{Name: "SubjectDomainName", Value: "-"}, {Name: "SubjectLogonId", Value: evtx.Hex64(0)},
				{Name: "TargetUserSid", Value: evtx.SID(u.sid)}, {Name: "TargetUserName", Value: u.sam},
				{Name: "TargetDomainName", Value: "CONTOSO"}, {Name: "TargetLogonId", Value: evtx.Hex64(0x1000000 + g.rng.Uint64N(0xffffff))},
				{Name: "LogonType", Value: uint32(3)}, {Name: "LogonProcessName", Value: "Kerberos"},
				{Name: "AuthenticationPackageName", Value: "Kerberos"}, {Name: "WorkstationName", Value: "-"},
				{Name: "LogonGuid", Value: evtx.GUID(g.newGUID().String())}, {Name: "IpAddress", Value: u.ip},
				{Name: "IpPort", Value: strconv.Itoa(49152 + g.rng.IntN(16000))},
			},
		})
	case r < 72:
		svc := []string{"Microsoft Exchange Health Manager Worker", "Windows Modules Installer", "WinHTTP Web Proxy Auto-Discovery Service", "Microsoft Exchange Diagnostics"}[g.rng.IntN(4)]
		state := []string{"running", "stopped"}[g.rng.IntN(2)]
		g.addEvent(chSystem, t, evtx.WEvent{
			Provider: "Service Control Manager", ProviderGUID: "{555908d1-a6d7-4695-8e1e-26931d2012f4}", EventSourceName: "Service Control Manager",
			EventID: 7036, HasQualifiers: true, Qualifiers: 0x4000, Level: 4, Keywords: 0x8080000000000000, ProcessID: 660, ThreadID: 4300,
			Data: []evtx.Data{{Name: "param1", Value: svc}, {Name: "param2", Value: state}, {Name: "Binary", Value: []byte{0x57, 0, 0x69, 0, 0x6e, 0}}},
		})
	case r < 84:
		g.appEvent(t, "MSExchange ADAccess", 2080, 4, 0x4000, []string{"w3wp.exe (MSExchangeOWAAppPool)", strconv.Itoa(2000 + g.rng.IntN(9000)),
			"Process w3wp.exe (MSExchangeOWAAppPool) (PID=7312). Exchange Active Directory Provider has discovered the following servers with the following characteristics: \r\n(Server name | Roles | Enabled | Reachability | Synchronized | GC capable | PDC | SACL right | Critical Data | Netlogon | OS Version) \r\nDC01.contoso.com\tCDG 1 7 7 1 0 1 1 7 1"})
	case r < 88:
		g.appEvent(t, "MSExchange Common", 4999, 2, 0xc000, []string{"Watson report about to be sent for process id: 7312, with parameters: E12IIS, c-RTL-AMD64, 15.01.2176.002, w3wp#MSExchangeOWAAppPool, M.Exchange.Clients.Owa2.Server, M.E.C.O.S.C.OwaServiceMethod.Execute, System.NullReferenceException, 1e9f, 15.01.2176.002."})
	case r < 90:
		g.appEvent(t, "MSExchange Unified Messaging", 1016, 4, 0x4000, []string{"UM worker process with process ID " + strconv.Itoa(2000+g.rng.IntN(9000)) + " started: UMWorkerProcess.exe"})
	default:
		// administrators at work: mailbox moves and exports to the file
		// share, and the OAB's URL set to the published name
		adm := "contoso.com/Users/" + g.admins[0].sam
		switch g.rng.IntN(4) {
		case 0:
			g.cmdletEvent(t, "Get-Mailbox", `-Identity "`+u.upn+`"`, adm, "EMS")
		case 1:
			g.cmdletEvent(t, "New-MailboxExportRequest", `-Mailbox "`+u.upn+`" -FilePath "\\FS01\pst$\`+u.sam+`.pst"`, adm, "EMS")
		case 2:
			g.cmdletEvent(t, "Set-OabVirtualDirectory", `-Identity "`+g.name+`\OAB (Default Web Site)" -ExternalUrl "https://`+g.host+`/OAB" -RequireSSL "True"`, adm, "ECP.MSExchangeECPAppPool")
		default:
			g.cmdletEvent(t, "New-ManagementRoleAssignment", `-Role "Mail Recipients" -User "`+u.upn+`"`, adm, "EMS")
		}
	}
}

// writeEventLogs writes each channel's events in time order and records
// the expected findings by record id.
func (g *gen) writeEventLogs() {
	if g.err != nil || len(g.winEvents) == 0 {
		return
	}
	by := map[string][]*winEvent{}
	lo, hi := toTime(g.first), toTime(g.last)
	for i := range g.winEvents {
		e := &g.winEvents[i]
		if e.ev.Time.Before(lo) {
			e.ev.Time = lo
		} else if e.ev.Time.After(hi) {
			e.ev.Time = hi
		}
		by[e.ch] = append(by[e.ch], e)
	}
	dir := filepath.Join(g.out, g.name, filepath.FromSlash(winevtDir))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		g.fail(err)
		return
	}
	for _, ch := range slices.Sorted(maps.Keys(by)) {
		evs := by[ch]
		slices.SortStableFunc(evs, func(a, b *winEvent) int { return cmp.Compare(a.ev.Time.UnixNano(), b.ev.Time.UnixNano()) })
		name := channelFile(ch)
		rel := g.name + "/" + winevtDir + "/" + name
		abs := filepath.Join(dir, name)
		if err := g.writeChannel(abs, evs); err != nil {
			g.fail(fmt.Errorf("lab: %s: %w", rel, err))
			return
		}
		for i, e := range evs {
			for _, x := range e.exp {
				g.expect(rel, int64(i+1), x.rule, x.stage, "")
			}
		}
	}
}

func (g *gen) writeChannel(abs string, evs []*winEvent) error {
	f, err := os.Create(abs)
	if err != nil {
		return err
	}
	w, err := evtx.NewWriter(f)
	if err != nil {
		f.Close()
		return err
	}
	for _, e := range evs {
		if err := w.Write(&e.ev); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Close(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	mt := evs[len(evs)-1].ev.Time
	return os.Chtimes(abs, mt, mt)
}
