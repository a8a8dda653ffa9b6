// Package static holds the stylesheet, htmx and images, embedded into the
// binary so that a deployment is one file and nothing loads from outside.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
)

//go:embed *.css *.js *.svg
var FS embed.FS

// Version is a digest of every embedded file. Pages link assets as
// /static/app.css?v=Version, so browsers may cache them for a year and
// still pick up a new release at once.
var Version = digest()

func digest() string {
	h := sha256.New()
	_ = fs.WalkDir(FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := FS.ReadFile(path)
		if err != nil {
			return err
		}
		h.Write([]byte(path))
		h.Write(b)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:12]
}
