/*
   What the attackers left on Exchange servers besides web shells, written
   by exhunt. exhunt_stage says what a match shows.
*/

rule EXHUNT_LSASS_Minidump {
   meta:
      description = "Minidump of the LSASS process (MDMP header, lsass.exe in its module list): credentials dumped on the server, whatever the file is called"
      author = "exhunt"
      reference = "https://www.microsoft.com/security/blog/2021/03/02/hafnium-targeting-exchange-servers/"
      date = "2021-03-02"
      score = 90
      exhunt_stage = "execution"
   strings:
      $m = "lsass.exe" wide nocase
   condition:
      uint32(0) == 0x504D444D and $m
}
