package emaillogo

import (
	"bytes"
	"flag"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "write templates/static/logo.png from logo.svg")

const builtin = "../../templates/static/"

// decode reads a PNG that Render made, checking its size.
func decode(t *testing.T, data []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != Size || b.Dy() != Size {
		t.Fatalf("PNG is %v, want %d×%d", b, Size, Size)
	}
	return img
}

// near reports whether c is within a few steps of want (antialiasing).
func near(c color.Color, want color.NRGBA) bool {
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	d := func(a, b uint8) bool { return a-b < 8 || b-a < 8 }
	return d(n.R, want.R) && d(n.G, want.G) && d(n.B, want.B) && d(n.A, want.A)
}

// The built-in email logo is logo.svg drawn by Render, committed: run with
// -update after changing the SVG (or the renderer).
func TestBuiltinPNGIsTheSVG(t *testing.T) {
	svg, err := os.ReadFile(builtin + "logo.svg")
	if err != nil {
		t.Fatal(err)
	}
	want, err := Render("logo.svg", svg)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(builtin+"logo.png", want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(builtin + "logo.png")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("templates/static/logo.png is not logo.svg as Render draws it: go test ./internal/emaillogo -run TestBuiltinPNGIsTheSVG -update")
	}
	img := decode(t, got)
	// The SVG's orange tile, cream house and amber door, at twice its 48 px.
	for _, p := range []struct {
		x, y int
		want color.NRGBA
	}{
		{4, 48, color.NRGBA{0xb3, 0x54, 0x1e, 0xff}},
		{30, 60, color.NRGBA{0xff, 0xf4, 0xe6, 0xff}},
		{48, 66, color.NRGBA{0xf2, 0xa6, 0x5a, 0xff}},
		{0, 0, color.NRGBA{}}, // outside the rounded corner
	} {
		if c := img.At(p.x, p.y); !near(c, p.want) {
			t.Errorf("pixel (%d,%d) = %v, want %v", p.x, p.y, c, p.want)
		}
	}
}

// A wide raster logo is scaled to fit and centred, transparent above and
// below; a JPEG comes out as a PNG like any other.
func TestRenderScalesRasterToFit(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 400, 200))
	for y := range 200 {
		for x := range 400 {
			src.Set(x, y, color.RGBA{0x20, 0x80, 0x40, 0xff})
		}
	}
	var jpg bytes.Buffer
	if err := jpeg.Encode(&jpg, src, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	out, err := Render("logo.jpg", jpg.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	img := decode(t, out)
	if c := img.At(48, 48); !near(c, color.NRGBA{0x20, 0x80, 0x40, 0xff}) {
		t.Errorf("centre = %v", c)
	}
	if c := img.At(48, 10); !near(c, color.NRGBA{}) {
		t.Errorf("above a 2:1 logo = %v, want transparent", c)
	}
}

// A file that can't be drawn is refused with the reason an admin can act on.
func TestRenderRefuses(t *testing.T) {
	var huge bytes.Buffer
	if err := png.Encode(&huge, image.NewGray(image.Rect(0, 0, 5000, 1))); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, data, want string
	}{
		{"logo.svg", `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><text x="1" y="9">Lantern</text></svg>`, "convert it to paths"},
		{"logo.svg", `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><image href="x.png"/></svg>`, "embedded image"},
		{"logo.svg", `<svg xmlns="http://www.w3.org/2000/svg"><rect width="10" height="10"/></svg>`, "no size"},
		{"logo.svg", `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect`, "can't be read"},
		{"logo.png", "not an image", "use SVG, PNG, JPEG"},
		{"logo.png", huge.String(), "5000×1"},
	} {
		if _, err := Render(c.name, []byte(c.data)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%.60q: %v, want an error saying %q", c.data, err, c.want)
		}
	}
}
