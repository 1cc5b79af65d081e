// Package emaillogo serves the charity's logo as a PNG for email. Gmail
// and Outlook show no SVG (and SpamAssassin scores a message whose only
// image is one they can't show), so the logo uploaded to the charity
// record, in whatever format, is drawn once into a small PNG, cached, and
// served at one public path; without an upload, the built-in static/logo.png.
package emaillogo

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"image"
	_ "image/gif"  // decoders for image.Decode
	_ "image/jpeg" //
	"image/png"
	"io"
	"path"
	"strings"

	"github.com/fyne-io/oksvg"
	"github.com/srwiley/rasterx"
	"golang.org/x/image/draw"
	_ "golang.org/x/image/webp" //
)

// Size is the PNG's width and height in pixels: twice the 48 CSS pixels
// the emails show it at, for high-density screens.
const Size = 96

// unsupported are SVG elements that draw something oksvg can't: a logo
// using them would lose part of itself, so it is refused with the reason.
var unsupported = map[string]string{
	"text": "text", "tspan": "text", "textPath": "text",
	"image": "an embedded image", "foreignObject": "HTML content",
	"clipPath": "a clipping path", "mask": "a mask", "filter": "a filter", "pattern": "a pattern fill",
}

// Render draws a logo file (SVG, PNG, JPEG, GIF or WebP; name gives the
// extension) into a Size×Size PNG: scaled to fit, centred, the rest
// transparent. The error says, for an admin, why the file can't be used.
func Render(name string, data []byte) ([]byte, error) {
	var img *image.NRGBA
	var err error
	if isSVG(name, data) {
		img, err = drawSVG(data)
	} else {
		img, err = scale(data)
	}
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&out, img); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func isSVG(name string, data []byte) bool {
	if strings.EqualFold(path.Ext(name), ".svg") {
		return true
	}
	head := bytes.TrimSpace(data[:min(len(data), 512)])
	return bytes.HasPrefix(head, []byte("<svg")) || bytes.HasPrefix(head, []byte("<?xml"))
}

func drawSVG(data []byte) (*image.NRGBA, error) {
	if err := checkElements(data); err != nil {
		return nil, err
	}
	icon, err := oksvg.ReadIconStream(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("the SVG can't be read: %w", err)
	}
	vb := icon.ViewBox
	if vb.W <= 0 || vb.H <= 0 || len(icon.SVGPaths) == 0 {
		return nil, errors.New("the SVG has no size (a viewBox, or width and height) or draws nothing")
	}
	w, h := fit(vb.W, vb.H)
	icon.SetTarget(float64(Size-w)/2, float64(Size-h)/2, float64(w), float64(h))
	img := image.NewNRGBA(image.Rect(0, 0, Size, Size))
	scanner := rasterx.NewScannerGV(Size, Size, img, img.Bounds())
	icon.Draw(rasterx.NewDasher(Size, Size, scanner), 1)
	return img, nil
}

// checkElements refuses an SVG that uses an element in unsupported.
func checkElements(data []byte) error {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = false // HTML-ish entities in a title are no reason to refuse
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("the SVG can't be read: %w", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if what, bad := unsupported[se.Name.Local]; bad {
				return fmt.Errorf("the SVG uses %s (<%s>), which can't be drawn for email: convert it to paths (in Inkscape: Path > Object to Path), or upload a PNG", what, se.Name.Local)
			}
		}
	}
}

// maxSide bounds a raster logo's width and height: a small file can claim
// a huge picture, which decoding would hold in memory.
const maxSide = 4096

func scale(data []byte) (*image.NRGBA, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, errors.New("the file isn't an image this app can read (use SVG, PNG, JPEG, GIF or WebP)")
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > maxSide || cfg.Height > maxSide {
		return nil, fmt.Errorf("the %s image is %d×%d pixels: use one between 1 and %d pixels a side", format, cfg.Width, cfg.Height, maxSide)
	}
	src, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("the %s image can't be read: %w", format, err)
	}
	b := src.Bounds()
	w, h := fit(float64(b.Dx()), float64(b.Dy()))
	x, y := (Size-w)/2, (Size-h)/2
	img := image.NewNRGBA(image.Rect(0, 0, Size, Size))
	draw.CatmullRom.Scale(img, image.Rect(x, y, x+w, y+h), src, b, draw.Over, nil)
	return img, nil
}

// fit is the size, in whole pixels, of a w×h picture scaled to fit Size×Size.
func fit(w, h float64) (int, int) {
	if w >= h {
		return Size, max(1, int(Size*h/w+0.5))
	}
	return max(1, int(Size*w/h+0.5)), Size
}
