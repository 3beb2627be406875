// Package pvesim is a Proxmox VE API simulator for the deployer's tests: an
// httptest TLS server that keeps nodes, storages, VMs and tasks, validates
// every request against the real Proxmox VE API schema (unknown or missing
// parameters, types, enums, patterns, property strings) and answers as
// Proxmox does (the data envelope, 400 "Parameter verification failed."
// with per-parameter errors, task UPIDs with status and exitstatus), with
// fault injection.
package pvesim

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// VM is a simulated QEMU VM.
type VM struct {
	Node   string
	VMID   int
	Config map[string]string
	Status string // "running" or "stopped"
	// Pending holds changes made while running to settings that take
	// effect only at the next start (as Proxmox keeps them pending).
	Pending map[string]string
}

// coldKeys are settings a running VM takes only at its next start (no
// hotplug for them here).
var coldKeys = map[string]bool{"cores": true, "sockets": true, "memory": true, "balloon": true, "cpu": true, "smbios1": true, "scsihw": true}

// diskKey matches the disk settings of a VM.
var diskKey = regexp.MustCompile(`^(scsi|virtio|sata|ide)\d+$`)

// allocateDisk turns a disk request "STORAGE:SIZE[,opts]" into what
// Proxmox stores: "STORAGE:vm-ID-disk-N[,opts],size=SIZEG".
func allocateDisk(vmid, n int, spec string) string {
	storage, rest, ok := strings.Cut(spec, ":")
	if !ok {
		return spec
	}
	size, opts, _ := strings.Cut(rest, ",")
	if _, err := strconv.Atoi(size); err != nil {
		return spec // an existing volume or a CD-ROM
	}
	out := fmt.Sprintf("%s:vm-%d-disk-%d", storage, vmid, n)
	if opts != "" {
		out += "," + opts
	}
	return out + ",size=" + size + "G"
}

// Task is a simulated task.
type Task struct {
	UPID, Node, Type string
	ExitStatus       string // "OK" or an error
}

// Server is the simulator.
type Server struct {
	// TS is the TLS test server; TS.Client() trusts its certificate.
	TS *httptest.Server

	schema *Schema
	mu     sync.Mutex                     // guards everything below
	nodes  map[string]map[string][]string // node -> storage -> content files ("iso/x.iso")
	vms    map[int]*VM
	tasks  map[string]*Task
	seq    int
	writes int
	calls  []string
	// ISOSums are the SHA-256 sums of what the simulated downloads fetch,
	// by URL: a download-url with another checksum fails as in Proxmox.
	ISOSums map[string]string
	// OnStart, when set, is called after a VM starts, with the content of
	// every uploaded volume attached to it as a CD-ROM, by config key:
	// the simulation boots the machine with what it finds there.
	OnStart func(vm VM, media map[string][]byte)
	uploads map[string][]byte // volid -> uploaded content
	// Privileges, when set, are the only privileges the token has (on
	// "/", propagated): a call the schema's permission check denies
	// answers 403 "Permission check failed", as Proxmox does.
	Privileges []string
	denied     []string
	faults     []Fault
	closed     bool
}

// Fault injects a failure into the matching requests.
type Fault struct {
	// Method and PathContains select requests.
	Method, PathContains string
	// Status answers with this HTTP status (500, 503) instead of handling.
	Status int
	// FailTask makes the task the request starts end with this exit status.
	FailTask string
	// Delay is added before answering.
	Delay time.Duration
	// Times limits how often the fault fires; 0 means always.
	Times int
	// Reason is the status line's reason phrase with Status, as Proxmox
	// gives its error message ("VM 101 already exists").
	Reason string
	// DropResponse handles the request, then closes the connection
	// without an answer: a response lost after the change was made.
	DropResponse bool
}

// routes are the API paths the simulator implements.
var routes = []string{
	"/version", "/nodes", "/nodes/{node}/status", "/nodes/{node}/storage", "/nodes/{node}/storage/{storage}/status",
	"/nodes/{node}/storage/{storage}/content", "/nodes/{node}/storage/{storage}/download-url",
	"/nodes/{node}/storage/{storage}/upload", "/nodes/{node}/storage/{storage}/content/{volume}",
	"/nodes/{node}/tasks/{upid}/status", "/nodes/{node}/qemu", "/nodes/{node}/qemu/{vmid}/status/current",
	"/nodes/{node}/qemu/{vmid}/config", "/nodes/{node}/qemu/{vmid}/status/start", "/nodes/{node}/qemu/{vmid}/status/stop",
	"/nodes/{node}/qemu/{vmid}/pending", "/nodes/{node}/qemu/{vmid}/resize",
	"/nodes/{node}/qemu/{vmid}",
}

// route matches a concrete path against the implemented routes.
func route(path string) (string, map[string]string) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for _, r := range routes {
		tsegs := strings.Split(strings.Trim(r, "/"), "/")
		if len(tsegs) != len(segs) {
			continue
		}
		params := map[string]string{}
		ok := true
		for i, t := range tsegs {
			if strings.HasPrefix(t, "{") {
				seg, err := url.PathUnescape(segs[i])
				if err != nil {
					ok = false
					break
				}
				params[t[1:len(t)-1]] = seg
			} else if t != segs[i] {
				ok = false
				break
			}
		}
		if ok {
			return r, params
		}
	}
	return "", nil
}

// New starts a simulator with the given nodes (each with storages "local"
// for ISOs and "local-lvm" for disks). With a schemaPath (the Proxmox VE
// API schema) every request is validated against it; with "" requests are
// only routed, for local demos without the schema.
func New(schemaPath string, nodes ...string) (*Server, error) {
	var sc *Schema
	if schemaPath != "" {
		var err error
		if sc, err = LoadSchema(schemaPath); err != nil {
			return nil, err
		}
	}
	s := &Server{schema: sc, nodes: map[string]map[string][]string{}, vms: map[int]*VM{}, tasks: map[string]*Task{}, uploads: map[string][]byte{}}
	for _, n := range nodes {
		s.nodes[n] = map[string][]string{"local": nil, "local-lvm": nil}
	}
	s.TS = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	return s, nil
}

// Close stops the server; calling it twice is safe.
func (s *Server) Close() {
	s.mu.Lock()
	closed := s.closed
	s.closed = true
	s.mu.Unlock()
	if !closed {
		s.TS.Close()
	}
}

// URL is the API base URL (".../api2/json").
func (s *Server) URL() string { return s.TS.URL + "/api2/json" }

// Inject adds a fault.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

// Writes counts the changing calls (POST, PUT, DELETE) handled so far.
func (s *Server) Writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

// Calls returns "METHOD path" of every request, in order.
func (s *Server) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

// VMs returns a copy of the VMs by vmid.
// Edit changes a VM's config out of band, as someone editing it in the
// Proxmox UI and restarting it would: the change is live at once.
func (s *Server) Edit(vmid int, key, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.vms[vmid]; ok {
		v.Config[key] = value
	}
}

func (s *Server) VMs() map[int]VM {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[int]VM{}
	for id, v := range s.vms {
		c := *v
		c.Config = maps.Clone(v.Config)
		c.Pending = maps.Clone(v.Pending)
		out[id] = c
	}
	return out
}

// Denied lists the calls the permission checks refused, with what they
// needed.
func (s *Server) Denied() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.denied...)
}

// Files returns the content of a node's storage.
func (s *Server) Files(node, storage string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.nodes[node][storage]...)
}

type apiError struct {
	status  int
	message string
	errors  map[string]string
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	// Route on the escaped path: a volume ID in it ("local:iso%2Fx.iso")
	// is one segment.
	path := strings.TrimPrefix(r.URL.EscapedPath(), "/api2/json")
	params, upload, err := readParams(r)
	if err != nil {
		writeErr(w, apiError{status: 400, message: "invalid request body: " + err.Error()})
		return
	}
	s.mu.Lock()
	s.calls = append(s.calls, r.Method+" "+path)
	var fault *Fault
	for i := range s.faults {
		f := &s.faults[i]
		if (f.Method == "" || f.Method == r.Method) && strings.Contains(path, f.PathContains) && f.Times >= 0 {
			fault = f
			if f.Times > 0 {
				f.Times--
				if f.Times == 0 {
					f.Times = -1
				}
			}
			break
		}
	}
	s.mu.Unlock()
	if fault != nil {
		if fault.Delay > 0 {
			time.Sleep(fault.Delay)
		}
		if fault.Status != 0 {
			if fault.Reason != "" {
				writeErr(w, apiError{status: fault.Status, message: fault.Reason})
				return
			}
			http.Error(w, fmt.Sprintf("%d simulated failure", fault.Status), fault.Status)
			return
		}
		if fault.DropResponse {
			w = &droppedResponse{ResponseWriter: w}
			defer w.(*droppedResponse).drop()
		}
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "PVEAPIToken=") {
		writeErr(w, apiError{status: 401, message: "authentication failure"})
		return
	}
	tmpl, pathParams := route(path)
	if tmpl == "" {
		writeErr(w, apiError{status: 501, message: fmt.Sprintf("Method '%s %s' not implemented", r.Method, path)})
		return
	}
	if s.schema != nil {
		node, _ := s.schema.match(path)
		if node == nil || node.Path != tmpl {
			writeErr(w, apiError{status: 501, message: fmt.Sprintf("Method '%s %s' not implemented", r.Method, path)})
			return
		}
		method, ok := node.Info[r.Method]
		if !ok {
			writeErr(w, apiError{status: 501, message: fmt.Sprintf("Method '%s %s' not implemented", r.Method, path)})
			return
		}
		all := map[string]string{}
		for k, v := range params {
			all[k] = v
		}
		for k, v := range pathParams {
			all[k] = v
		}
		s.mu.Lock()
		privs := s.Privileges
		s.mu.Unlock()
		if privs != nil {
			ok, need, err := method.permitted(r.Method, tmpl, privs)
			if err != nil {
				writeErr(w, apiError{status: 500, message: err.Error()})
				return
			}
			if ok {
				switch r.Method + " " + tmpl {
				case "POST /nodes/{node}/qemu", "POST /nodes/{node}/qemu/{vmid}/config", "PUT /nodes/{node}/qemu/{vmid}/config":
					ok, need = configPermitted(params, privs)
				}
			}
			if !ok {
				s.mu.Lock()
				s.denied = append(s.denied, fmt.Sprintf("%s %s: needs %s", r.Method, path, need))
				s.mu.Unlock()
				writeErr(w, apiError{status: 403, message: fmt.Sprintf("Permission check failed (needs %s)", need)})
				return
			}
		}
		if errs := method.validate(all); len(errs) > 0 {
			writeErr(w, apiError{status: 400, message: "Parameter verification failed.", errors: errs})
			return
		}
	}
	failTask := ""
	if fault != nil {
		failTask = fault.FailTask
	}
	if upload != nil {
		params[uploadKey] = string(upload)
	}
	data, aerr := s.handle(r.Method, tmpl, pathParams, params, failTask)
	if aerr != nil {
		writeErr(w, *aerr)
		return
	}
	if r.Method+" "+tmpl == "POST /nodes/{node}/qemu/{vmid}/status/start" && failTask == "" {
		s.started(pathParams["vmid"])
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"data": data})
}

// uploadKey carries an upload's content from serve to handle; it is no
// API parameter (a NUL cannot be in one).
const uploadKey = "\x00upload"

// started calls OnStart for the VM vmid with its attached uploads.
func (s *Server) started(vmid string) {
	id, _ := strconv.Atoi(vmid)
	s.mu.Lock()
	hook := s.OnStart
	v, ok := s.vms[id]
	var vm VM
	media := map[string][]byte{}
	if ok {
		vm = *v
		vm.Config = maps.Clone(v.Config)
		for k, val := range v.Config {
			volid, opts, _ := strings.Cut(val, ",")
			if diskKey.MatchString(k) && strings.Contains(opts, "media=cdrom") {
				if b, ok := s.uploads[volid]; ok {
					media[k] = b
				}
			}
		}
	}
	s.mu.Unlock()
	if ok && hook != nil {
		hook(vm, media)
	}
}

// readParams returns the request's parameters and, for a multipart
// upload, the file's content (its file name is the "filename" parameter,
// as Proxmox takes it).
func readParams(r *http.Request) (map[string]string, []byte, error) {
	out := map[string]string{}
	for k, v := range r.URL.Query() {
		out[k] = v[0]
	}
	if r.Body == nil {
		return out, nil, nil
	}
	if mt, ps, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && mt == "multipart/form-data" {
		mr := multipart.NewReader(r.Body, ps["boundary"])
		var upload []byte
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				return out, upload, nil
			}
			if err != nil {
				return nil, nil, err
			}
			b, err := io.ReadAll(part)
			if err != nil {
				return nil, nil, err
			}
			if part.FileName() != "" {
				out[part.FormName()], upload = part.FileName(), b
			} else {
				out[part.FormName()] = string(b)
			}
		}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil || len(body) == 0 {
		return out, nil, err
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, nil, err
		}
		for k, v := range m {
			switch t := v.(type) {
			case string:
				out[k] = t
			case bool:
				out[k] = map[bool]string{true: "1", false: "0"}[t]
			case float64:
				out[k] = strconv.FormatFloat(t, 'f', -1, 64)
			default:
				b, _ := json.Marshal(t)
				out[k] = string(b)
			}
		}
		return out, nil, nil
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, nil, err
	}
	for k, v := range form {
		out[k] = v[0]
	}
	return out, nil, nil
}

// writeErr answers as Proxmox does: the message is the status line's
// reason phrase ("HTTP/1.1 500 VM 101 already exists") and the body's
// "message".
func writeErr(w http.ResponseWriter, e apiError) {
	body := map[string]any{"data": nil, "message": e.message + "\n"}
	if len(e.errors) > 0 {
		body["errors"] = e.errors
	}
	data, _ := json.Marshal(body)
	if d, ok := w.(*droppedResponse); ok {
		d.dropped = true
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(e.status)
		w.Write(data)
		return
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	reason := strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, e.message)
	fmt.Fprintf(buf, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", e.status, reason, len(data), data)
	buf.Flush()
}

// droppedResponse swallows the answer and closes the connection instead.
type droppedResponse struct {
	http.ResponseWriter
	dropped bool
}

func (d *droppedResponse) WriteHeader(int)             { d.dropped = true }
func (d *droppedResponse) Write(b []byte) (int, error) { d.dropped = true; return len(b), nil }
func (d *droppedResponse) Header() http.Header         { return http.Header{} }

func (d *droppedResponse) drop() {
	if hj, ok := d.ResponseWriter.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
		}
	}
}

// newTask records a finished task and returns its UPID.
func (s *Server) newTask(node, typ, id, fail string) string {
	s.seq++
	upid := fmt.Sprintf("UPID:%s:%08X:%08X:%08X:%s:%s:root@pam!homelab:", node, 1000+s.seq, 5000+s.seq, 0x67000000+s.seq, typ, id)
	exit := "OK"
	if fail != "" {
		exit = fail
	}
	s.tasks[upid] = &Task{UPID: upid, Node: node, Type: typ, ExitStatus: exit}
	return upid
}

func (s *Server) handle(method, tmpl string, pp, params map[string]string, fail string) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if method != http.MethodGet {
		s.writes++
	}
	node := pp["node"]
	if node != "" {
		if _, ok := s.nodes[node]; !ok {
			return nil, &apiError{status: 500, message: fmt.Sprintf("hostname lookup '%s' failed - failed to get address info for: %s: Name or service not known", node, node)}
		}
	}
	vmid, _ := strconv.Atoi(pp["vmid"])
	switch method + " " + tmpl {
	case "GET /version":
		return map[string]any{"version": "9.1.0", "release": "9.1", "repoid": "simulated"}, nil
	case "GET /nodes":
		var out []map[string]any
		for n := range s.nodes {
			out = append(out, map[string]any{"node": n, "status": "online", "type": "node"})
		}
		sort.Slice(out, func(i, j int) bool { return out[i]["node"].(string) < out[j]["node"].(string) })
		return out, nil
	case "GET /nodes/{node}/status":
		return map[string]any{"uptime": 1000, "cpuinfo": map[string]any{"cpus": 4}, "memory": map[string]any{"total": 16 << 30}}, nil
	case "GET /nodes/{node}/storage":
		var out []map[string]any
		for st := range s.nodes[node] {
			out = append(out, s.storageInfo(node, st))
		}
		sort.Slice(out, func(i, j int) bool { return out[i]["storage"].(string) < out[j]["storage"].(string) })
		return out, nil
	case "GET /nodes/{node}/storage/{storage}/status":
		if _, ok := s.nodes[node][pp["storage"]]; !ok {
			return nil, &apiError{status: 500, message: fmt.Sprintf("storage '%s' does not exist", pp["storage"])}
		}
		return s.storageInfo(node, pp["storage"]), nil
	case "GET /nodes/{node}/storage/{storage}/content":
		var out []map[string]any
		for _, f := range s.nodes[node][pp["storage"]] {
			out = append(out, map[string]any{"volid": pp["storage"] + ":" + f, "content": strings.SplitN(f, "/", 2)[0], "format": "iso", "size": 100 << 20})
		}
		return out, nil
	case "POST /nodes/{node}/storage/{storage}/download-url":
		st := pp["storage"]
		if _, ok := s.nodes[node][st]; !ok {
			return nil, &apiError{status: 500, message: fmt.Sprintf("storage '%s' does not exist", st)}
		}
		if want := params["checksum"]; fail == "" && want != "" {
			if got, known := s.ISOSums[params["url"]]; known && got != want {
				fail = fmt.Sprintf("checksum mismatch: got '%s' != expect '%s'", got, want)
			}
		}
		if fail == "" {
			s.nodes[node][st] = append(s.nodes[node][st], params["content"]+"/"+params["filename"])
		}
		return s.newTask(node, "download", st, fail), nil
	case "POST /nodes/{node}/storage/{storage}/upload":
		st := pp["storage"]
		if _, ok := s.nodes[node][st]; !ok {
			return nil, &apiError{status: 500, message: fmt.Sprintf("storage '%s' does not exist", st)}
		}
		data := []byte(params[uploadKey])
		if want := params["checksum"]; fail == "" && want != "" {
			if params["checksum-algorithm"] != "sha256" {
				return nil, &apiError{status: 501, message: "the simulator checks sha256 only"}
			}
			if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != want {
				fail = fmt.Sprintf("checksum mismatch: got '%x' != expect '%s'", sum, want)
			}
		}
		if fail == "" {
			f := params["content"] + "/" + params["filename"]
			if !slices.Contains(s.nodes[node][st], f) {
				s.nodes[node][st] = append(s.nodes[node][st], f)
			}
			s.uploads[st+":"+f] = bytes.Clone(data)
		}
		return s.newTask(node, "imgcopy", st, fail), nil
	case "DELETE /nodes/{node}/storage/{storage}/content/{volume}":
		st, volid := pp["storage"], pp["volume"]
		f, ok := strings.CutPrefix(volid, st+":")
		if i := slices.Index(s.nodes[node][st], f); !ok || i < 0 {
			return nil, &apiError{status: 500, message: fmt.Sprintf("volume '%s' does not exist", volid)}
		} else if fail == "" {
			s.nodes[node][st] = slices.Delete(s.nodes[node][st], i, i+1)
			delete(s.uploads, volid)
		}
		return s.newTask(node, "imgdel", st, fail), nil
	case "GET /nodes/{node}/tasks/{upid}/status":
		t, ok := s.tasks[pp["upid"]]
		if !ok {
			return nil, &apiError{status: 500, message: "no such task"}
		}
		return map[string]any{"upid": t.UPID, "node": t.Node, "type": t.Type, "status": "stopped", "exitstatus": t.ExitStatus,
			"pid": 1000, "pstart": 5000, "starttime": 1764000000, "user": "root@pam!homelab", "id": ""}, nil
	case "GET /nodes/{node}/qemu":
		var out []map[string]any
		for _, v := range s.vms {
			if v.Node == node {
				out = append(out, map[string]any{"vmid": v.VMID, "name": v.Config["name"], "status": v.Status, "tags": v.Config["tags"]})
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i]["vmid"].(int) < out[j]["vmid"].(int) })
		return out, nil
	case "POST /nodes/{node}/qemu":
		id, _ := strconv.Atoi(params["vmid"])
		if _, exists := s.vms[id]; exists {
			return nil, &apiError{status: 500, message: fmt.Sprintf("unable to create VM %d - VM %d already exists on node '%s'", id, id, s.vms[id].Node)}
		}
		if fail == "" {
			cfg := map[string]string{}
			disks := 0
			for _, k := range slices.Sorted(maps.Keys(params)) {
				v := params[k]
				switch {
				case k == "vmid" || k == "node":
				case diskKey.MatchString(k) && !strings.Contains(v, "media=cdrom"):
					cfg[k] = allocateDisk(id, disks, v)
					disks++
				default:
					cfg[k] = v
				}
			}
			s.vms[id] = &VM{Node: node, VMID: id, Config: cfg, Status: "stopped"}
		}
		return s.newTask(node, "qmcreate", strconv.Itoa(id), fail), nil
	}
	v, ok := s.vms[vmid]
	if !ok || v.Node != node {
		return nil, &apiError{status: 500, message: fmt.Sprintf("Configuration file 'nodes/%s/qemu-server/%d.conf' does not exist", node, vmid)}
	}
	switch method + " " + tmpl {
	case "GET /nodes/{node}/qemu/{vmid}/status/current":
		return map[string]any{"vmid": v.VMID, "name": v.Config["name"], "status": v.Status, "qmpstatus": v.Status, "agent": 1}, nil
	case "GET /nodes/{node}/qemu/{vmid}/config":
		out := map[string]any{"digest": "0000000000000000000000000000000000000000"}
		for k, val := range v.Config {
			if n, err := strconv.Atoi(val); err == nil && k != "name" {
				out[k] = n
			} else {
				out[k] = val
			}
		}
		return out, nil
	case "POST /nodes/{node}/qemu/{vmid}/config", "PUT /nodes/{node}/qemu/{vmid}/config":
		if fail == "" {
			for k, val := range params {
				switch {
				case k == "delete":
					for _, d := range strings.Split(val, ",") {
						delete(v.Config, d)
					}
				case k == "vmid" || k == "node" || k == "digest":
				case v.Status == "running" && coldKeys[k]:
					if v.Pending == nil {
						v.Pending = map[string]string{}
					}
					v.Pending[k] = val
				case diskKey.MatchString(k) && v.Config[k] == "" && !strings.Contains(val, "media=cdrom"):
					v.Config[k] = allocateDisk(vmid, len(v.Config), val)
				default:
					v.Config[k] = val
				}
			}
		}
		if method == http.MethodPut {
			return nil, nil
		}
		return s.newTask(node, "qmconfig", strconv.Itoa(vmid), fail), nil
	case "GET /nodes/{node}/qemu/{vmid}/pending":
		var out []map[string]any
		for _, k := range slices.Sorted(maps.Keys(v.Config)) {
			e := map[string]any{"key": k, "value": v.Config[k]}
			if p, ok := v.Pending[k]; ok {
				e["pending"] = p
			}
			out = append(out, e)
		}
		for _, k := range slices.Sorted(maps.Keys(v.Pending)) {
			if _, ok := v.Config[k]; !ok {
				out = append(out, map[string]any{"key": k, "pending": v.Pending[k]})
			}
		}
		return out, nil
	case "PUT /nodes/{node}/qemu/{vmid}/resize":
		disk, size := params["disk"], strings.TrimSuffix(params["size"], "G")
		cur, ok := v.Config[disk]
		i := strings.Index(cur, ",size=")
		if !ok || i < 0 {
			return nil, &apiError{status: 500, message: fmt.Sprintf("disk '%s' does not exist", disk)}
		}
		have, _ := strconv.Atoi(strings.TrimSuffix(cur[i+len(",size="):], "G"))
		want, err := strconv.Atoi(strings.TrimPrefix(size, "+"))
		if err != nil {
			return nil, &apiError{status: 400, message: "size: invalid format"}
		}
		if strings.HasPrefix(size, "+") {
			want += have
		}
		if want < have {
			return nil, &apiError{status: 500, message: "shrinking disks is not supported"}
		}
		if fail == "" {
			v.Config[disk] = cur[:i] + ",size=" + strconv.Itoa(want) + "G"
		}
		return s.newTask(node, "resize", strconv.Itoa(vmid), fail), nil
	case "POST /nodes/{node}/qemu/{vmid}/status/start":
		if fail == "" {
			v.Status = "running"
			for k, val := range v.Pending {
				v.Config[k] = val
			}
			v.Pending = nil
		}
		return s.newTask(node, "qmstart", strconv.Itoa(vmid), fail), nil
	case "POST /nodes/{node}/qemu/{vmid}/status/stop":
		if fail == "" {
			v.Status = "stopped"
		}
		return s.newTask(node, "qmstop", strconv.Itoa(vmid), fail), nil
	case "DELETE /nodes/{node}/qemu/{vmid}":
		if v.Status == "running" {
			return nil, &apiError{status: 500, message: fmt.Sprintf("VM %d is running - destroy failed", vmid)}
		}
		if fail == "" {
			delete(s.vms, vmid)
		}
		return s.newTask(node, "qmdestroy", strconv.Itoa(vmid), fail), nil
	}
	return nil, &apiError{status: 501, message: fmt.Sprintf("Method '%s %s' not implemented by the simulator", method, tmpl)}
}

func (s *Server) storageInfo(node, st string) map[string]any {
	content := "images,rootdir"
	typ := "lvmthin"
	if st == "local" {
		content, typ = "iso,vztmpl,backup", "dir"
	}
	return map[string]any{"storage": st, "content": content, "type": typ, "active": 1, "enabled": 1, "total": 100 << 30, "used": 10 << 30, "avail": 90 << 30}
}
