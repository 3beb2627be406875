package pvesim

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Permission checks as Proxmox VE declares them in its API schema: each
// method's "permissions.check" is an expression over privileges
// (["perm", PATH, [PRIVS...]] needs all of them, with "any", 1 one of
// them; ["and", ...] and ["or", ...] combine checks; ["userid-group",
// ...] and the like fall to the user's own objects). The simulator grants
// a token its privileges on "/" with propagation, as `pveum aclmod /
// -role ROLE` does, so the path of a check never narrows it.

// describedOnly are the methods the schema guards by a description only
// (permissions.user "all"), with the privileges the description names
// for what the deployer does, quoted from the Proxmox VE 9.1 schema.
var describedOnly = map[string][]string{
	// "You need 'VM.Allocate' permissions on /vms/{vmid} ... If you
	// create disks you need 'Datastore.AllocateSpace' on any used
	// storage. If you use a bridge/vlan, you need 'SDN.Use' on any used
	// bridge/vlan."
	"POST /nodes/{node}/qemu": {"VM.Allocate", "Datastore.AllocateSpace", "SDN.Use"},
	// "You need 'Datastore.Allocate' privilege on the storage".
	"DELETE /nodes/{node}/storage/{storage}/content/{volume}": {"Datastore.Allocate"},
	// "Only list VMs where you have VM.Audit permissions".
	"GET /nodes/{node}/qemu": {"VM.Audit"},
}

// allowed evaluates a schema check expression against privs.
func allowed(check []any, privs []string) (bool, error) {
	if len(check) == 0 {
		return true, nil
	}
	op, _ := check[0].(string)
	switch op {
	case "perm":
		if len(check) < 3 {
			return false, fmt.Errorf("check %v: no privileges", check)
		}
		list, _ := check[2].([]any)
		anyOf := len(check) >= 5 && check[3] == "any"
		for _, p := range list {
			has := slices.Contains(privs, fmt.Sprint(p))
			if anyOf && has {
				return true, nil
			}
			if !anyOf && !has {
				return false, nil
			}
		}
		return !anyOf || len(list) == 0, nil
	case "and", "or":
		for _, c := range check[1:] {
			sub, _ := c.([]any)
			ok, err := allowed(sub, privs)
			if err != nil {
				return false, err
			}
			if op == "and" && !ok {
				return false, nil
			}
			if op == "or" && ok {
				return true, nil
			}
		}
		return op == "and", nil
	}
	return false, fmt.Errorf("check %v: operator %q not evaluated by the simulator", check, op)
}

// permitted reports whether privs may call method on the schema node,
// and the privileges it needs when not.
func (m schemaMethod) permitted(method, tmpl string, privs []string) (bool, string, error) {
	if need, ok := describedOnly[method+" "+tmpl]; ok {
		for _, p := range need {
			if !slices.Contains(privs, p) {
				return false, p, nil
			}
		}
		return true, "", nil
	}
	if len(m.Permissions.Check) == 0 {
		return true, "", nil // "user": "all" without conditions
	}
	var check []any
	if err := json.Unmarshal(m.Permissions.Check, &check); err != nil {
		return false, "", err
	}
	ok, err := allowed(check, privs)
	return ok, strings.TrimSpace(string(m.Permissions.Check)), err
}

// configPrivilege is the privilege Proxmox checks for setting (or
// deleting) the VM option opt to value, beyond the method's own check:
// qemu-server PVE/API2/Qemu.pm, check_vm_modify_config_perm (the
// $cpuoptions, $memoryoptions, $hwtypeoptions, $generaloptions and
// $diskoptions tables, net\d+), check_storage_access (a CD-ROM needs
// VM.Config.CDROM, another drive VM.Config.Disk, and a new volume
// Datastore.AllocateSpace) and the tag check (VM.Config.Options). An
// option outside them is root's only.
func configPrivilege(opt, value string) ([]string, bool) {
	switch opt {
	case "vmid", "node", "digest", "delete":
		return nil, true
	case "cores", "cpu", "sockets", "cpulimit", "cpuunits", "numa", "vcpus":
		return []string{"VM.Config.CPU"}, true
	case "memory", "balloon", "shares":
		return []string{"VM.Config.Memory"}, true
	case "acpi", "hotplug", "kvm", "machine", "scsihw", "smbios1", "tablet", "vga", "watchdog", "audio0":
		return []string{"VM.Config.HWType"}, true
	case "agent", "autostart", "bios", "description", "keyboard", "localtime", "name", "onboot", "ostype", "protection", "reboot", "startdate", "tdf", "template", "tags":
		return []string{"VM.Config.Options"}, true
	case "boot", "bootdisk", "vmstatestorage":
		return []string{"VM.Config.Disk"}, true
	}
	switch {
	case strings.HasPrefix(opt, "net"):
		return []string{"VM.Config.Network", "SDN.Use"}, true
	case diskKey.MatchString(opt) && strings.Contains(value, "media=cdrom"):
		return []string{"VM.Config.CDROM"}, true
	case diskKey.MatchString(opt):
		return []string{"VM.Config.Disk", "Datastore.AllocateSpace"}, true
	}
	return nil, false
}

// configPermitted checks every option a create or config call sets or
// deletes.
func configPermitted(params map[string]string, privs []string) (bool, string) {
	check := func(opt, value string) (bool, string) {
		need, ok := configPrivilege(opt, value)
		if !ok {
			return false, "root@pam (only root can set '" + opt + "')"
		}
		for _, p := range need {
			if !slices.Contains(privs, p) {
				return false, p + " for " + opt
			}
		}
		return true, ""
	}
	for opt, value := range params {
		if ok, need := check(opt, value); !ok {
			return false, need
		}
	}
	if del := params["delete"]; del != "" {
		for _, opt := range strings.Split(del, ",") {
			if ok, need := check(opt, ""); !ok {
				return false, need
			}
		}
	}
	return true, ""
}
