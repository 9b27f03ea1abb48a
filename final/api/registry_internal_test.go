package api

import (
	"encoding/base64"
	"net/http"
	"testing"

	"github.com/moby/moby/api/types/registry"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecodeRegistryAuth(t *testing.T) {
	const withPadding = `{"username":"ann","password":"s3cret?>","serveraddress":"127.0.0.1:5000"}` // 73 bytes: padded
	want := &registry.AuthConfig{Username: "ann", Password: "s3cret?>", ServerAddress: "127.0.0.1:5000"}
	for _, tc := range []struct {
		name, header string
		want         *registry.AuthConfig
		err          string
	}{
		{"docker CLI: base64url with padding", base64.URLEncoding.EncodeToString([]byte(withPadding)), want, ""},
		{"without padding", base64.RawURLEncoding.EncodeToString([]byte(withPadding)), want, ""},
		{"standard alphabet", base64.StdEncoding.EncodeToString([]byte(withPadding)), want, ""},
		{"empty header", "", nil, ""},
		{"the CLI's no credentials: {}", base64.URLEncoding.EncodeToString([]byte("{}")), nil, ""},
		{"identity token", base64.URLEncoding.EncodeToString([]byte(`{"identitytoken":"tok","serveraddress":"r.example"}`)),
			&registry.AuthConfig{IdentityToken: "tok", ServerAddress: "r.example"}, ""},
		{"not base64", "%%%", nil, "invalid X-Registry-Auth header: not base64url"},
		{"not JSON", base64.URLEncoding.EncodeToString([]byte("user:pass")), nil, "invalid X-Registry-Auth header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeRegistryAuth(tc.header)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				assert.Equal(t, http.StatusBadRequest, HTTPStatus(err))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
	// The escape characters of base64url ('-' and '_') are where the two
	// alphabets differ: a password that yields them must decode.
	tricky := `{"username":"u","password":"~~~???>>>"}`
	enc := base64.URLEncoding.EncodeToString([]byte(tricky))
	require.Regexp(t, `[-_]`, enc, "the test needs a base64url-only character")
	got, err := decodeRegistryAuth(enc)
	require.NoError(t, err)
	assert.Equal(t, "~~~???>>>", got.Password)
}

func TestDecodeRegistryConfig(t *testing.T) {
	enc := base64.URLEncoding.EncodeToString([]byte(`{"127.0.0.1:5000":{"username":"ann","password":"pw"},"https://index.docker.io/v1/":{"auth":"eDp5"}}`))
	got, err := decodeRegistryConfig(enc)
	require.NoError(t, err)
	assert.Equal(t, map[string]registry.AuthConfig{
		"127.0.0.1:5000":              {Username: "ann", Password: "pw"},
		"https://index.docker.io/v1/": {Auth: "eDp5"},
	}, got)
	got, err = decodeRegistryConfig(base64.URLEncoding.EncodeToString([]byte("{}")))
	require.NoError(t, err)
	assert.Nil(t, got)
	_, err = decodeRegistryConfig(base64.URLEncoding.EncodeToString([]byte("[1]")))
	assert.ErrorContains(t, err, "invalid X-Registry-Config header")
}

func TestPullReference(t *testing.T) {
	const dg = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		fromImage, tag string
		ref            string
		all            bool
		err            string
	}{
		{"busybox", "latest", "busybox:latest", false, ""},
		{"docker.io/library/busybox", "1.36", "busybox:1.36", false, ""},
		{"busybox:1.36", "", "busybox:1.36", false, ""},
		{"busybox", "", "busybox", true, ""},
		{"busybox:", "", "busybox", true, ""}, // the old CLI's pull -a
		{"127.0.0.1:5000/team/app", "v2", "127.0.0.1:5000/team/app:v2", false, ""},
		{"127.0.0.1:5000/team/app", "", "127.0.0.1:5000/team/app", true, ""},
		{"busybox", dg, "busybox@" + dg, false, ""},
		{"docker.io/library/busybox@" + dg, "", "busybox@" + dg, false, ""},
		{"busybox:1.36@" + dg, "", "busybox@" + dg, false, ""},
		{"busybox@" + dg, "latest", "", false, "has a digest and tag"},
		{"busybox", "sha256:abc", "", false, "invalid reference format: digest"},
		{"Busybox", "latest", "", false, "invalid reference format"},
		{"busybox:1", "2", "", false, "has a tag and tag="},
	} {
		t.Run(tc.fromImage+"+"+tc.tag, func(t *testing.T) {
			ref, all, err := pullReference(tc.fromImage, tc.tag)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				assert.Equal(t, http.StatusBadRequest, HTTPStatus(err))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.ref, ref)
			assert.Equal(t, tc.all, all)
		})
	}
}

func TestProgressString(t *testing.T) {
	for _, tc := range []struct {
		current, total int64
		width          int
		want           string
	}{
		{0, 0, 0, ""},
		{1234, 0, 0, " 1.234kB"},
		{0, 3400000, 0, "[>                                                  ]       0B/3.4MB"},
		{1200000, 3400000, 0, "[=================>                                 ]    1.2MB/3.4MB"},
		{3400000, 3400000, 0, "[==================================================>]    3.4MB/3.4MB"},
		{2152262, 2152262, 200, "[==================================================>]  2.152MB/2.152MB"},
		{5000000, 3400000, 0, "[==================================================>]      5MB"},
		{1200000, 3400000, 80, "   1.2MB/3.4MB"}, // a narrow terminal: no bar
		{527, 1024, 111, "[=========================>                         ]     527B/1.024kB"},
	} {
		assert.Equal(t, tc.want, ProgressString(tc.current, tc.total, tc.width), "%d/%d width %d", tc.current, tc.total, tc.width)
	}
}

func TestRefuseQueryNamesTheOption(t *testing.T) {
	err := refuseQuery("pull", map[string][]string{"fromImage": {"x"}, "zeta": {"1"}, "alpha": {"2"}}, "fromImage", "tag")
	require.Error(t, err)
	assert.Equal(t, "pull: berth does not apply the option(s) alpha, zeta", err.Error())
	assert.NoError(t, refuseQuery("pull", map[string][]string{"tag": {"1"}}, "fromImage", "tag"))
}
