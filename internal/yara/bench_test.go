package yara

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

// The benchmark corpus: EXHUNT_BENCH_MB megabytes (default 200) of logs,
// web files, web shells and binaries, generated once into the temporary
// directory and reused by later runs.
func benchCorpus(b *testing.B) (dir string, files []string, total int64) {
	b.Helper()
	mb := 200
	if v, err := strconv.Atoi(os.Getenv("EXHUNT_BENCH_MB")); err == nil && v > 0 {
		mb = v
	}
	dir = filepath.Join(os.TempDir(), fmt.Sprintf("exhunt-yara-bench-%dMB", mb))
	if _, err := os.Stat(filepath.Join(dir, ".done")); err != nil {
		os.RemoveAll(dir)
		genBenchCorpus(b, dir, int64(mb)<<20)
		if err := os.WriteFile(filepath.Join(dir, ".done"), nil, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() && fi.Name() != ".done" {
			files = append(files, p)
			total += fi.Size()
		}
		return nil
	})
	return dir, files, total
}

func genBenchCorpus(b *testing.B, dir string, size int64) {
	rng := rand.New(rand.NewSource(7))
	small := t2tb(b)
	var written int64
	write := func(name string, data []byte) {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
		written += int64(len(data))
	}
	// the oracle corpus once (shells, logs, binaries, crafted files)
	for _, f := range genCorpus(small, filepath.Join(dir, "corpus")) {
		if fi, err := os.Stat(f.path); err == nil {
			written += fi.Size()
		}
	}
	shells := webShells(rng)
	benign := benignWeb()
	uas := []string{
		"Mozilla/5.0+(Windows+NT+10.0;+Win64;+x64)+AppleWebKit/537.36+(KHTML,+like+Gecko)+Chrome/88.0.4324.190+Safari/537.36",
		"Microsoft+Office/16.0+(Windows+NT+10.0;+Microsoft+Outlook+16.0.13801;+Pro)",
		"python-requests/2.25.1",
	}
	n := 0
	for written < size {
		n++
		switch n % 10 {
		case 0, 1, 2, 3: // IIS logs, 8 MB
			var buf bytes.Buffer
			buf.WriteString("#Software: Microsoft Internet Information Services 10.0\n#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken\n")
			for buf.Len() < 8<<20 {
				method, uri := "GET", "/owa/"+randAlnum(rng, 8)
				switch rng.Intn(50) {
				case 0:
					method, uri = "POST", "/ecp/DDI/DDIService.svc/GetList"
				case 1:
					method, uri = "POST", "/EWS/Exchange.asmx"
				case 2:
					method, uri = "POST", "/autodiscover/autodiscover.xml"
				}
				fmt.Fprintf(&buf, "2021-03-0%d %02d:%02d:%02d 10.0.0.1 %s %s &ClientId=%s&encoding=; 443 CORP\\%s 10.1.%d.%d %s - %d 0 0 %d\n",
					1+rng.Intn(9), rng.Intn(24), rng.Intn(60), rng.Intn(60), method, uri, randAlnum(rng, 32), randAlnum(rng, 6),
					rng.Intn(255), rng.Intn(255), uas[rng.Intn(len(uas))], []int{200, 200, 200, 302, 401, 404}[rng.Intn(6)], rng.Intn(2000))
			}
			write(fmt.Sprintf("logs/W3SVC1/u_ex%06d.log", n), buf.Bytes())
		case 4, 5: // HttpProxy CSV logs, 8 MB
			var buf bytes.Buffer
			buf.WriteString("#Software: Microsoft Exchange Server\n#Log-type: HttpProxy Logs\n")
			for buf.Len() < 8<<20 {
				fmt.Fprintf(&buf, "2022-10-01T10:%02d:%02d.%03dZ,%s,15,1,2375,7,,Owa,mail.corp.local,/owa/service.svc?action=GetItem,,Negotiate,true,CORP\\%s,,Sid~S-1-5-21-%d,%s,10.1.2.3,EXCH01,200,200,,POST,Proxy,exch02.corp.local,15.01.2375.000,IntraForest,,,,,0,1234,,,0,6,,0,,0,,0,0,,0,29,0,,,,21,1,0,0,,0,29,0,23,7,8,8,29,,,,BeginRequest=2022-10-01T10:00:00.000Z;CorrelationID=<empty>;ProxyState-Run=None;,,,,,,\n",
					rng.Intn(60), rng.Intn(60), rng.Intn(1000), randAlnum(rng, 36), randAlnum(rng, 6), rng.Int63(), uas[rng.Intn(len(uas))])
			}
			write(fmt.Sprintf("logs/HttpProxy/Owa/HttpProxy_%06d.LOG", n), buf.Bytes())
		case 6, 7: // binaries, 4 MB
			write(fmt.Sprintf("bin/blob%06d.bin", n), randBytes(rng, 4<<20))
		case 8: // web folders: many small files, some shells
			for i := 0; i < 400; i++ {
				if i%40 == 0 {
					for name, data := range shells {
						write(fmt.Sprintf("web%06d/%03d_%s", n, i, name), data)
						break
					}
					continue
				}
				for name, data := range benign {
					pad := bytes.Repeat([]byte("<div class=\"row\">"+randAlnum(rng, 40)+"</div>\n"), 1+rng.Intn(200))
					write(fmt.Sprintf("web%06d/%03d_%s", n, i, name), append(append([]byte(nil), data...), pad...))
					break
				}
			}
		case 9: // PE-like files, 2 MB
			pe := append([]byte("MZ\x90\x00"), randBytes(rng, 2<<20)...)
			copy(pe[1<<20:], utf16le("get_Request get_Files System.Web.UI.Page", false))
			write(fmt.Sprintf("bin/App_Web_%06d.dll", n), pe)
		}
	}
}

// t2tb adapts a benchmark to genCorpus's needs.
func t2tb(b *testing.B) testing.TB { return b }

func upstreamRules(b *testing.B) (*Rules, []ruleFile) {
	up, err := filepath.Glob(filepath.Join(upstreamDir, "*.yar"))
	if err != nil || len(up) == 0 {
		b.Fatalf("no upstream rules in %s", upstreamDir)
	}
	var files []ruleFile
	for _, p := range up {
		files = append(files, ruleFile{ns: filepath.Base(p[:len(p)-4]), path: p})
	}
	r, _ := compileOracle(b, files)
	return r, files
}

// BenchmarkScan scans the corpus with every upstream rule, one worker per
// core over the files, reading each through ScanReader.
func BenchmarkScan(b *testing.B) {
	_, files, total := benchCorpus(b)
	rules, _ := upstreamRules(b)
	b.SetBytes(total)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		scanAll(b, rules, files)
	}
	reportCPU(b, cpuTime()-cpu0, total)
}

// reportCPU adds throughput per CPU-second: on a shared machine wall time
// says little, CPU time says what the scan costs.
func reportCPU(b *testing.B, cpu time.Duration, total int64) {
	if cpu > 0 {
		b.ReportMetric(float64(total)*float64(b.N)/(1<<20)/cpu.Seconds(), "MB/cpu-s")
	}
}

func scanAll(b *testing.B, rules *Rules, files []string) int {
	work := make(chan string)
	var wg sync.WaitGroup
	var mu sync.Mutex
	matches := 0
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range work {
				f, err := os.Open(p)
				if err != nil {
					b.Error(err)
					continue
				}
				fi, _ := f.Stat()
				ms, err := rules.ScanReader(f, fi.Size(), map[string]string{"filename": filepath.Base(p), "filepath": p}, ScanOptions{})
				f.Close()
				if err != nil {
					b.Error(err)
				}
				mu.Lock()
				matches += len(ms)
				mu.Unlock()
			}
		}()
	}
	for _, p := range files {
		work <- p
	}
	close(work)
	wg.Wait()
	return matches
}

// BenchmarkYaraCLI runs yara -r with the same rules over the same corpus,
// with one thread per core, for comparison with BenchmarkScan.
func BenchmarkYaraCLI(b *testing.B) {
	bin, err := exec.LookPath("yara")
	if err != nil {
		b.Skip("yara not installed")
	}
	dir, _, total := benchCorpus(b)
	_, files := upstreamRules(b)
	args := []string{"-r", "-p", strconv.Itoa(runtime.GOMAXPROCS(0))}
	for _, e := range externalNames {
		args = append(args, "-d", e+"=")
	}
	for _, f := range files {
		args = append(args, f.ns+":"+f.path)
	}
	args = append(args, dir)
	b.SetBytes(total)
	b.ResetTimer()
	var cpu time.Duration
	for i := 0; i < b.N; i++ {
		cmd := exec.Command(bin, args...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("yara: %v\n%.2000s", err, out)
		}
		cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	reportCPU(b, cpu, total)
}

func BenchmarkCompile(b *testing.B) {
	files := oracleRuleFiles(b)
	for i := 0; i < b.N; i++ {
		compileOracle(b, files)
	}
}
