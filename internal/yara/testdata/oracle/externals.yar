// External variables, set per file (yara -d).
rule x_ext_aspx { condition: extension == ".aspx" }
rule x_ext_iequals { condition: filename iequals "CHOPPER_JSCRIPT.ASPX" }
rule x_path_contains { condition: filepath contains "/shells/" and filetype == "webshell" }
rule x_path_icontains { condition: filepath icontains "/LOGS/" and not (filename endswith ".LOG") }
rule x_starts { condition: filename startswith "pst_" and filename istartswith "PST" }
rule x_matches { strings: $a = "Page" condition: filename matches /^[a-z_]+\.aspx$/ and $a }
rule x_type_defined { condition: defined filetype and filetype != "" and extension iendswith "BIN" }
