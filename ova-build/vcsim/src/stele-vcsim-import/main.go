// stele-vcsim-import: imports a stele OVA into a vSphere simulator, as vCenter's deploy wizard
// would, and checks the result.
//
// It starts govmomi's simulator (VPX model: datacenter, cluster, hosts, datastore, "VM Network")
// on 127.0.0.1 over TLS, then acts as a SOAP client of it: parses the descriptor, creates the
// import spec with every property value from a JSON file and the network mapping, imports the
// vApp, uploads each disk through the NFC lease, and checks the VM that results (pvscsi, two
// disks, vmxnet3, CD-ROM, CPUs, memory, property values). Built offline in GOPATH mode from
// Debian's golang-github-vmware-govmomi-dev (see ova-build/vcsim-import.sh).
package main

import (
	"archive/tar"
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/ioutil"
	"net/url"
	"os"
	"sort"
	"strings"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/ovf"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

func main() {
	ovaPath := flag.String("ova", "", "OVA to import")
	propsPath := flag.String("properties", "", "JSON object: vApp property key -> value")
	flag.Parse()
	if *ovaPath == "" || *propsPath == "" {
		fmt.Fprintln(os.Stderr, "usage: stele-vcsim-import -ova FILE.ova -properties FILE.json")
		os.Exit(2)
	}
	if err := run(*ovaPath, *propsPath); err != nil {
		fmt.Fprintln(os.Stderr, "vcsim-import: FAILED:", err)
		os.Exit(1)
	}
}

// member returns the reader of one OVA member and its size; the caller closes the file.
func member(ovaPath, name string) (*os.File, io.Reader, int64, error) {
	f, err := os.Open(ovaPath)
	if err != nil {
		return nil, nil, 0, err
	}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			f.Close()
			return nil, nil, 0, fmt.Errorf("%s has no member %s", ovaPath, name)
		}
		if err != nil {
			f.Close()
			return nil, nil, 0, err
		}
		if h.Name == name || (strings.HasPrefix(name, "*") && strings.HasSuffix(h.Name, name[1:])) {
			return f, tr, h.Size, nil
		}
	}
}

func run(ovaPath, propsPath string) error {
	ctx := context.Background()

	// The simulator.
	model := simulator.VPX()
	defer model.Remove()
	if err := model.Create(); err != nil {
		return fmt.Errorf("simulator model: %v", err)
	}
	model.Service.Listen = &url.URL{Host: "127.0.0.1:0"}
	model.Service.TLS = new(tls.Config)
	server := model.Service.NewServer()
	defer server.Close()
	fmt.Println("vcsim: simulator listening on", server.URL.Host)

	// The client, over the simulator's HTTPS SOAP endpoint.
	c, err := govmomi.NewClient(ctx, server.URL, true)
	if err != nil {
		return fmt.Errorf("login: %v", err)
	}
	finder := find.NewFinder(c.Client, true)
	dc, err := finder.DefaultDatacenter(ctx)
	if err != nil {
		return err
	}
	finder.SetDatacenter(dc)
	pool, err := finder.ResourcePool(ctx, "/DC0/host/DC0_C0/Resources")
	if err != nil {
		return err
	}
	ds, err := finder.Datastore(ctx, "LocalDS_0")
	if err != nil {
		return err
	}
	network, err := finder.Network(ctx, "VM Network")
	if err != nil {
		return err
	}
	folders, err := dc.Folders(ctx)
	if err != nil {
		return err
	}

	f, r, _, err := member(ovaPath, "*.ovf")
	if err != nil {
		return err
	}
	raw, err := ioutil.ReadAll(r)
	f.Close()
	if err != nil {
		return err
	}
	descriptor := string(raw)
	env, err := ovf.Unmarshal(strings.NewReader(descriptor))
	if err != nil {
		return fmt.Errorf("descriptor: %v", err)
	}
	if env.VirtualSystem == nil || len(env.VirtualSystem.Product) != 1 {
		return fmt.Errorf("descriptor needs exactly one ProductSection")
	}

	// Property values: every user-configurable property must be given, nothing else.
	pj, err := ioutil.ReadFile(propsPath)
	if err != nil {
		return err
	}
	values := map[string]string{}
	if err := json.Unmarshal(pj, &values); err != nil {
		return fmt.Errorf("%s: %v", propsPath, err)
	}
	declared := map[string]bool{}
	for _, p := range env.VirtualSystem.Product[0].Property {
		if p.UserConfigurable != nil && *p.UserConfigurable {
			declared[p.Key] = true
			if p.Label == nil || p.Description == nil {
				return fmt.Errorf("property %s lacks Label or Description", p.Key)
			}
		}
	}
	var mapping []types.KeyValue
	for k, v := range values {
		if !declared[k] {
			return fmt.Errorf("property %s is not a user-configurable property of the OVA", k)
		}
		mapping = append(mapping, types.KeyValue{Key: k, Value: v})
	}
	for k := range declared {
		if _, ok := values[k]; !ok {
			return fmt.Errorf("property %s is not set by %s", k, propsPath)
		}
	}
	sort.Slice(mapping, func(i, j int) bool { return mapping[i].Key < mapping[j].Key })

	cisp := types.OvfCreateImportSpecParams{
		EntityName:      "stele-replica-test",
		PropertyMapping: mapping,
		NetworkMapping:  []types.OvfNetworkMapping{{Name: "VM Network", Network: network.Reference()}},
	}
	spec, err := ovf.NewManager(c.Client).CreateImportSpec(ctx, descriptor, pool, ds, cisp)
	if err != nil {
		return fmt.Errorf("CreateImportSpec: %v", err)
	}
	for _, w := range spec.Warning {
		fmt.Println("vcsim: import-spec warning:", w.LocalizedMessage)
	}
	if len(spec.Error) > 0 {
		var msgs []string
		for _, e := range spec.Error {
			msgs = append(msgs, e.LocalizedMessage)
		}
		return fmt.Errorf("import spec errors: %s", strings.Join(msgs, "; "))
	}
	fmt.Printf("vcsim: import spec created with %d properties and %d files\n", len(mapping), len(spec.FileItem))

	lease, err := pool.ImportVApp(ctx, spec.ImportSpec, folders.VmFolder, nil)
	if err != nil {
		return fmt.Errorf("ImportVApp: %v", err)
	}
	info, err := lease.Wait(ctx, spec.FileItem)
	if err != nil {
		return fmt.Errorf("lease: %v", err)
	}
	// The updater drains each item's progress channel (Upload blocks without it) and keeps
	// the lease alive.
	updater := lease.StartUpdater(ctx, info)
	defer updater.Done()
	for _, item := range info.Items {
		f, r, size, err := member(ovaPath, item.Path)
		if err != nil {
			return err
		}
		err = lease.Upload(ctx, item, r, soap.Upload{ContentLength: size})
		f.Close()
		if err != nil {
			return fmt.Errorf("upload %s: %v", item.Path, err)
		}
		fmt.Printf("vcsim: uploaded %s (%d bytes)\n", item.Path, size)
	}
	if err := lease.Complete(ctx); err != nil {
		return fmt.Errorf("lease complete: %v", err)
	}

	// The VM as the simulator created it.
	vm := object.NewVirtualMachine(c.Client, info.Entity)
	var mvm mo.VirtualMachine
	if err := vm.Properties(ctx, vm.Reference(), []string{"name", "config"}, &mvm); err != nil {
		return err
	}
	if mvm.Config == nil {
		return fmt.Errorf("imported VM has no config")
	}
	counts := map[string]int{}
	for _, d := range mvm.Config.Hardware.Device {
		switch d.(type) {
		case *types.ParaVirtualSCSIController:
			counts["pvscsi"]++
		case *types.VirtualDisk:
			counts["disk"]++
		case *types.VirtualVmxnet3:
			counts["vmxnet3"]++
		case *types.VirtualCdrom:
			counts["cdrom"]++
		case *types.VirtualIDEController:
			counts["ide"]++
		}
	}
	fmt.Printf("vcsim: VM %s: %d vCPU, %d MB, devices %v\n", mvm.Name, mvm.Config.Hardware.NumCPU, mvm.Config.Hardware.MemoryMB, counts)
	want := map[string]int{"pvscsi": 1, "disk": 2, "vmxnet3": 1, "cdrom": 1}
	for k, n := range want {
		if counts[k] != n {
			return fmt.Errorf("imported VM has %d %s, expected %d", counts[k], k, n)
		}
	}
	if mvm.Config.Hardware.NumCPU != 2 || mvm.Config.Hardware.MemoryMB != 4096 {
		return fmt.Errorf("imported VM has %d vCPU / %d MB, expected 2 / 4096", mvm.Config.Hardware.NumCPU, mvm.Config.Hardware.MemoryMB)
	}
	// govmomi 0.24.2's simulator records the property mapping as extraConfig (it does not
	// model vAppConfig): check every value arrived unchanged.
	got := map[string]string{}
	for _, o := range mvm.Config.ExtraConfig {
		ov := o.GetOptionValue()
		if s, ok := ov.Value.(string); ok {
			got[ov.Key] = s
		}
	}
	for k, v := range values {
		if got[k] != v {
			return fmt.Errorf("property %s: VM has %d bytes, expected %d", k, len(got[k]), len(v))
		}
	}
	fmt.Printf("vcsim: import passed: %d properties set, %d disks uploaded\n", len(values), len(info.Items))
	return nil
}
