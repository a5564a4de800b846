// String modifiers, each against crafted/modifiers.txt and the rest of the corpus.
rule text_plain { strings: $a = "evilcmd" condition: $a }
rule text_nocase : tagA tagB { meta: author = "exhunt" score = 5 neg = -3 flag = true strings: $a = "evilcmd" nocase condition: #a > 3 }
rule text_wide { strings: $a = "evilcmd" wide condition: $a }
rule text_ascii_wide_nocase { strings: $a = "EVILCMD" ascii wide nocase condition: $a }
rule text_fullword { strings: $a = "evilcmd" fullword condition: $a }
rule text_fullword_wide { strings: $a = "evilcmd" wide fullword condition: $a }
rule text_xor { strings: $a = "hidden-payload" xor condition: #a == 7 }
rule text_xor_range { strings: $a = "hidden-payload" xor(1-3) condition: $a }
rule text_xor_one { strings: $a = "hidden-payload" xor(0x20) condition: $a }
rule text_xor_wide { strings: $a = "evilcmd" xor wide condition: $a }
rule text_base64 { strings: $a = "powershell -enc" base64 condition: $a }
rule text_base64wide { strings: $a = "cmd.exe /c whoami" base64wide condition: $a }
rule text_base64_wide_text { strings: $a = "cmd.exe" base64 wide ascii condition: $a }
rule text_base64_custom { strings: $a = "x-custom-alphabet" base64("ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvutsrqponmlkjihgfedcba9876543210+/") condition: $a }
rule text_escapes { strings: $a = "say \"hi\"\tC:\\temp\\x.exe\n" $b = "\x73\x61\x79" condition: $a and $b }
rule text_private { strings: $a = "secret-token" private $b = "private:" condition: #a == 2 and $b }
private rule private_helper { strings: $a = "evilcmd" condition: $a }
rule uses_private { condition: private_helper and filesize > 10 }
rule anon_strings { strings: $ = "evilcmd" $ = "nothere123" condition: any of them }

// Hex strings
rule hex_wild { strings: $a = { DE AD ?? EF 1? ?2 CA FE } condition: $a }
rule hex_jump_fixed { strings: $a = { 4D 5A [3] 50 45 } condition: $a }
rule hex_jump_range { strings: $a = { AA BB [2-8] CC } condition: $a }
rule hex_alt { strings: $a = { 10 ( 20 | 22 23 | 22 ( 24 25 | 26 ) ) 31 } condition: #a == 3 }
rule hex_chain_unbounded { strings: $a = { F0 F1 [-] F2 F3 } condition: $a }
rule hex_chain_open { strings: $a = { E0 E1 [10-] E2 E3 } condition: $a }
rule hex_chain_wide_range { strings: $a = { F0 F1 [300-6000] F2 F3 } condition: $a }
rule hex_mz { strings: $mz = { 4D 5A } condition: $mz at 0 }
rule hex_pe_like { strings: $pe = { 50 45 00 00 4C 01 } condition: $pe and uint16(0) == 0x5a4d and uint32(uint32(0x3c)) == 0x4550 }

// Regular expressions
rule re_basic { strings: $a = /user=[a-z]+&pass=\w+/ condition: $a }
rule re_nocase_flag { strings: $a = /cmd: whoami \/all/i condition: $a }
rule re_nocase_mod { strings: $a = /upload\.ASPX\?f=[^ ]+/ nocase condition: $a }
rule re_wide { strings: $a = /Invoke-[A-Z][a-z]+/ wide condition: $a }
rule re_fullword { strings: $a = /token.[ab]/ fullword condition: $a }
rule re_dotall { strings: $a = /line1.line2/s $b = /line1.line2/ condition: $a and not $b }
rule re_ip { strings: $a = /https?:\/\/\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(:\d+)?\// condition: $a }
rule re_overlap { strings: $a = /(abc)+/ $b = /z+y/ condition: #a == 3 and $b }
rule re_anchor { strings: $a = /^GET / $b = /end$/ condition: $a and not $b }
rule re_classes { strings: $a = /[A-F]{4}[0-9]{4}[^a-z\x00]{4}/ $b = /id=\d+;/ condition: all of them }
rule re_lazy { strings: $a = /A+?1/ $b = /B{2,}/ condition: $a and $b }
rule re_upto { strings: $a = /xyz{,3}y/ condition: $a }
rule re_wordb { strings: $a = /\btoken\b/ condition: $a }
