package decoy

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"strings"
	"time"
	"unicode/utf16"
)

// ntlmChallenge answers an NTLM NEGOTIATE message (base64) with a
// CHALLENGE message whose target information names the server's NetBIOS
// and DNS names, as a real Exchange front end does to anyone who asks.
// It returns "" when msg is not a NEGOTIATE message.
func ntlmChallenge(msg string, p *Profile) string {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(msg))
	if err != nil || len(raw) < 12 || !bytes.HasPrefix(raw, []byte("NTLMSSP\x00")) || binary.LittleEndian.Uint32(raw[8:]) != 1 {
		return ""
	}
	domain := strings.ToUpper(strings.SplitN(p.Domain, ".", 2)[0])
	target := utf16le(domain)
	var info []byte
	av := func(id uint16, v []byte) {
		info = binary.LittleEndian.AppendUint16(info, id)
		info = binary.LittleEndian.AppendUint16(info, uint16(len(v)))
		info = append(info, v...)
	}
	av(2, utf16le(domain))
	av(1, utf16le(strings.ToUpper(p.ServerName)))
	av(4, utf16le(p.Domain))
	av(3, utf16le(p.FQDN()))
	av(5, utf16le(p.Domain))
	ts := uint64(time.Now().UnixNano()/100) + 116444736000000000
	av(7, binary.LittleEndian.AppendUint64(nil, ts))
	av(0, nil)

	const head = 56
	out := make([]byte, 0, head+len(target)+len(info))
	out = append(out, "NTLMSSP\x00"...)
	out = binary.LittleEndian.AppendUint32(out, 2)
	out = binary.LittleEndian.AppendUint16(out, uint16(len(target)))
	out = binary.LittleEndian.AppendUint16(out, uint16(len(target)))
	out = binary.LittleEndian.AppendUint32(out, head)
	// UNICODE, REQUEST_TARGET, NTLM, ALWAYS_SIGN, TARGET_TYPE_DOMAIN,
	// EXTENDED_SESSIONSECURITY, TARGET_INFO, VERSION, 128, KEY_EXCH, 56.
	out = binary.LittleEndian.AppendUint32(out, 0xe28a8215)
	var challenge [8]byte
	rand.Read(challenge[:])
	out = append(out, challenge[:]...)
	out = append(out, make([]byte, 8)...)
	out = binary.LittleEndian.AppendUint16(out, uint16(len(info)))
	out = binary.LittleEndian.AppendUint16(out, uint16(len(info)))
	out = binary.LittleEndian.AppendUint32(out, uint32(head+len(target)))
	// Windows version 10.0 build 17763 (Server 2019), NTLM revision 15.
	out = append(out, 10, 0, 0x63, 0x45, 0, 0, 0, 15)
	out = append(out, target...)
	out = append(out, info...)
	return base64.StdEncoding.EncodeToString(out)
}

func utf16le(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 0, 2*len(u))
	for _, c := range u {
		b = binary.LittleEndian.AppendUint16(b, c)
	}
	return b
}
