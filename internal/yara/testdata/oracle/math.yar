import "math"

// The math module's entropy, mean and deviation over whole files, their
// heads and tails, ranges cut at the end of the data, ranges at string
// offsets and ranges past the end (undefined). The bounds split the
// corpus (text, base64, random bytes, runs of one byte), so a value
// computed wrong flips a rule against yara. filesize stays under the
// window the oracle streams large files in.

rule math_entropy_low { condition: filesize > 0 and filesize < 200KB and math.entropy(0, filesize) < 4.5 }
rule math_entropy_text { condition: filesize < 200KB and math.entropy(0, filesize) >= 4.5 and math.entropy(0, filesize) < 5.5 }
rule math_entropy_encoded { condition: filesize < 200KB and math.entropy(0, filesize) >= 5.5 and math.entropy(0, filesize) < 7.0 }
rule math_entropy_random { condition: filesize < 200KB and math.entropy(0, filesize) >= 7.0 }
rule math_entropy_head { condition: filesize < 200KB and math.entropy(0, 512) > 4.8 }
// the range runs past the end and is cut there
rule math_entropy_tail { condition: filesize > 2KB and filesize < 200KB and math.entropy(filesize - 1024, 4096) > 5.0 }
// an offset at the end is undefined: only the other operand decides
rule math_entropy_past_end { condition: filesize < 200KB and (math.entropy(filesize, 1) >= 0.0 or filesize < 300) }

rule math_mean_low { condition: filesize > 0 and filesize < 200KB and math.mean(0, filesize) < 75.0 }
rule math_mean_mid { condition: filesize < 200KB and math.mean(0, filesize) >= 75.0 and math.mean(0, filesize) < 95.0 }
rule math_mean_high { condition: filesize < 200KB and math.mean(0, filesize) >= 95.0 }
rule math_mean_head { condition: filesize < 200KB and math.mean(0, 64) > 90.0 }

rule math_deviation_own_mean { condition: filesize < 200KB and math.deviation(0, filesize, math.mean(0, filesize)) > 30.0 }
rule math_deviation_fixed { condition: filesize < 200KB and math.deviation(0, filesize, 127.5) < 40.0 }
rule math_deviation_tail { condition: filesize > 1KB and filesize < 200KB and math.deviation(filesize - 512, 1024, 80.0) > 25.0 }

// ranges at the offsets of string matches
rule math_at_string {
  strings:
    $eval = "eval(" nocase
    $b64 = "FromBase64String"
  condition:
    filesize < 200KB and for any i in (1..#eval): (math.entropy(@eval[i], 400) > 5.2) or
    for any i in (1..#b64): (math.mean(@b64[i] + !b64[i], 128) > 80.0)
}
