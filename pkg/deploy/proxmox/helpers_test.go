package proxmox_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"strings"
)

func newConfigPost(url, form string) (*http.Request, error) {
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(form))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "PVEAPIToken=root@pam!test=x")
	return req, nil
}

// newUploadRequest uploads content as an ISO named file to host's "local"
// storage, as someone with storage access would.
func newUploadRequest(base, host, file string, content []byte) (*http.Request, error) {
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	if err := w.WriteField("content", "iso"); err != nil {
		return nil, err
	}
	fw, err := w.CreateFormFile("filename", file)
	if err != nil {
		return nil, err
	}
	if _, err := fw.Write(content); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	req, err := http.NewRequest(http.MethodPost, base+"/api2/json/nodes/"+host+"/storage/local/upload", &body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Authorization", "PVEAPIToken=root@pam!test=x")
	return req, nil
}
