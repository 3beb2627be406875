package proxmox_test

import (
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
