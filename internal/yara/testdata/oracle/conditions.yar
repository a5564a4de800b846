// Condition forms, mostly against crafted/counts.txt and crafted/ints_*.bin.
rule c_count { strings: $t = " tick" condition: #t == 12 and #t in (0..40) == 6 }
rule c_offset { strings: $t = " tick" condition: @t[1] == 4 and @t == 4 and @t[2] == 9 and !t[3] == 5 and !t == 5 }
rule c_offset_undef { strings: $t = " tick" condition: not (@t[100] > 0) }
rule c_offset_undef_or { strings: $t = " tick" condition: @t[100] > 0 or $t }
rule c_at_in { strings: $m = "MARK" $t = "tock" condition: $m at 0 and $t in (filesize-20..filesize) }
rule c_n_of { strings: $a = "tick" $b = "tock" $c = "nothere" condition: 2 of them and not all of them and 1 of ($a, $c) }
rule c_wild_set { strings: $t1 = "tick" $t2 = "tock" $x = "MARK" condition: all of ($t*) and not (none of ($x*)) }
rule c_percent { strings: $a = "tick" $b = "tock" $c = "zz" $d = "MARKER" condition: 75% of them }
rule c_of_in { strings: $a = "tick" $b = "tock" condition: any of them in (0..10) and not all of them in (0..10) }
rule c_for_of { strings: $a = "tick" $b = "tock" $c = "MARK" condition: for all of ($a, $b) : ( # >= 3 ) and for any of them : ( $ at 0 ) and for 2 of them : ( @ >= 5 ) }
rule c_for_in_range { strings: $t = " tick" condition: for all i in (1..#t) : ( @t[i] < 200 and !t[i] == 5 ) and for any i in (1..#t) : ( @t[i] == 9 ) }
rule c_for_in_set { condition: for any i in (1, 2, 3) : ( uint8(i) == 0x41 ) and for 2 i in (0, 1, 2) : ( uint8(i) > 0x40 ) }
rule c_for_none { strings: $t = " tick" condition: for none i in (1..#t) : ( @t[i] == 0 ) }
rule c_for_empty { strings: $z = "nothere" condition: not for all i in (1..#z) : ( false ) or $z }
rule c_arith { condition: (filesize + 1) * 2 - 2 == filesize * 2 and filesize % 7 == filesize - (filesize \ 7) * 7 and -filesize < 0 }
rule c_bitwise { condition: (filesize | 1) & 1 == 1 and (0xf0 ^ 0xff) == 0x0f and ~0 == -1 and 1 << 4 == 16 and 256 >> 4 == 16 }
rule c_ints_be { condition: uint32be(0) == 0xcafebabe and uint16be(4) == 0xfffe and int8(6) == 127 and int8(7) == -128 and int16be(4) == -2 and int32be(8) == 0x01020304 and uint8be(0) == 0xca }
rule c_ints_le { condition: uint32(0) == 0xcafebabe and int16(4) == -128 and uint16(6) == 0x8000 and int32(4) == -2147418240 }
rule c_int_oob { condition: not defined uint32(filesize - 2) and defined uint8(0) }
rule c_sizes { condition: filesize < 1KB and 1MB == 1048576 and filesize > 0 }
rule c_float { condition: filesize > 1.5 }
rule c_rule_ref { condition: c_count and c_sizes and not c_offset_undef }
rule c_bool_lits { condition: true and not false and (false or true) }
rule c_strings_cmp { condition: "abc" contains "b" and "abc" startswith "ab" and "abc" endswith "bc" and "ABC" iequals "abc" and "xAbCx" icontains "abc" and "abc" matches /^a.c$/ and "b" > "a" }
rule c_div_zero { condition: not (filesize \ (filesize - filesize) == 1) }
rule c_count_in_zero { strings: $t = "tock" condition: #t in (0..10) == 0 and #t > 0 }
