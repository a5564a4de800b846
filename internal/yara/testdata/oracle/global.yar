// A global rule gates every rule of its namespace.
global rule g_small { condition: filesize < 100KB }
rule g_page { strings: $a = "Page Language" nocase condition: $a }
rule g_any { condition: true }
