package pb_hooks_test

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"mime/multipart"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// logoSrc is the src of an email's logo image.
var logoSrc = regexp.MustCompile(`<img src="([^"]+)" alt="` + testkit.IdentityName + `"`)

// emailLogo is the logo a message's HTML shows, fetched as a mail client
// would: it must be a PNG, served as image/png.
func emailLogo(t *testing.T, env *testkit.Env, html string) image.Image {
	t.Helper()
	m := logoSrc.FindStringSubmatch(html)
	if m == nil {
		t.Fatalf("no logo in the HTML:\n%s", html)
	}
	if !strings.HasPrefix(m[1], env.URL+"/") || !strings.HasSuffix(m[1], ".png") {
		t.Fatalf("logo src %q is not a PNG on this app", m[1])
	}
	res, err := http.Get(m[1])
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("GET %s = %d %s", m[1], res.StatusCode, res.Header.Get("Content-Type"))
	}
	img, err := png.Decode(res.Body)
	if err != nil {
		t.Fatalf("GET %s is not a PNG: %v", m[1], err)
	}
	// A mail client revalidating with the ETag is told nothing changed.
	etag := res.Header.Get("ETag")
	if etag == "" {
		t.Fatalf("GET %s has no ETag", m[1])
	}
	req, _ := http.NewRequest(http.MethodGet, m[1], nil)
	req.Header.Set("If-None-Match", etag)
	again, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	again.Body.Close()
	if again.StatusCode != http.StatusNotModified {
		t.Errorf("GET %s with If-None-Match %s = %d, want 304", m[1], etag, again.StatusCode)
	}
	return img
}

// uploadLogo saves a file as the charity's logo, as the dashboard does.
func uploadLogo(t *testing.T, env *testkit.Env, token, name, data string) testkit.Answer {
	t.Helper()
	rec, err := env.App.FindFirstRecordByFilter(vocab.Charity, "")
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("logo", name)
	fw.Write([]byte(data))
	mw.Close()
	return env.Request(t, token, http.MethodPatch, "/api/collections/"+vocab.Charity+"/records/"+rec.Id, mw.FormDataContentType(), &body)
}

// The confirmation and a campaign show the logo as a PNG that the app
// serves as image/png (mail clients don't show SVG): the built-in one, then
// the charity's uploaded SVG converted, at the same URL. An upload that
// can't be drawn for email is refused on the logo field.
func TestEmailLogoIsPNG(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	env.PostJSON(t, "/api/subscribe", `{"email":"logo@example.org","topics":["newsletter"],"consent":true}`)
	confirm := env.SMTP.WaitFor(t, "logo@example.org", 1, 10*time.Second)[0]
	img := emailLogo(t, env, confirm.HTML)
	builtin, err := os.ReadFile("../templates/static/logo.png")
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := png.Decode(bytes.NewReader(builtin)); !sameImage(img, want) {
		t.Error("the confirmation's logo is not templates/static/logo.png")
	}

	admin := testkit.Login(t, env, "superuser")
	green := `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 20 10"><rect width="20" height="10" fill="#1a7f37"/></svg>`
	if a := uploadLogo(t, env, admin, "lanternhouse.svg", green); a.Status != 200 {
		t.Fatalf("logo upload = %d %s", a.Status, a.Body)
	}
	testkit.Subscribers(t, env.App, 1)
	testkit.DueCampaign(t, env.App, "Winter news", "Thank you for a warm winter.")
	campaign := env.SMTP.WaitFor(t, "reader00000@example.org", 1, 30*time.Second)[0]
	img = emailLogo(t, env, campaign.HTML)
	// A 2:1 green SVG, drawn 96 wide and 48 high, centred.
	if c := color.NRGBAModel.Convert(img.At(48, 48)).(color.NRGBA); c != (color.NRGBA{0x1a, 0x7f, 0x37, 0xff}) {
		t.Errorf("the campaign's logo centre = %v, want the uploaded SVG's green", c)
	}
	if _, _, _, a := img.At(48, 10).RGBA(); a != 0 {
		t.Error("above the 2:1 logo is not transparent")
	}

	dump := testkit.Dump(t, env.App, vocab.Charity)
	a := uploadLogo(t, env, admin, "words.svg", `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><text>Lanternhouse</text></svg>`)
	if a.Status != http.StatusBadRequest || !strings.Contains(a.Body, `"logo"`) || !strings.Contains(a.Body, "convert it to paths") {
		t.Errorf("an SVG with text = %d %s", a.Status, a.Body)
	}
	if testkit.Dump(t, env.App, vocab.Charity) != dump {
		t.Error("a refused logo changed the charity record")
	}
}

func sameImage(a, b image.Image) bool {
	if b == nil || a.Bounds() != b.Bounds() {
		return false
	}
	for y := a.Bounds().Min.Y; y < a.Bounds().Max.Y; y++ {
		for x := a.Bounds().Min.X; x < a.Bounds().Max.X; x++ {
			if fmt.Sprint(color.NRGBAModel.Convert(a.At(x, y))) != fmt.Sprint(color.NRGBAModel.Convert(b.At(x, y))) {
				return false
			}
		}
	}
	return true
}
