package evidence

import "os"

// OpenFile opens the file itself when it is a plain file on disk (not
// gzipped, not in a zip), for readers that need random access such as the
// EVTX reader; ok is false for the others, which Open streams. The same
// checks as Open apply (a file replaced after discovery is refused).
func (f *File) OpenFile() (fh *os.File, ok bool, err error) {
	if f.gz {
		return nil, false, nil
	}
	switch f.src.(type) {
	case diskFile, rootedFile:
	default:
		return nil, false, nil
	}
	rc, err := f.src.open(f)
	if err != nil {
		return nil, true, err
	}
	fh, ok = rc.(*os.File)
	if !ok {
		rc.Close()
		return nil, false, nil
	}
	return fh, true, nil
}
