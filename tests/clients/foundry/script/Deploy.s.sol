// SPDX-License-Identifier: Apache-2.0
// forge script of the Foundry scenario: deploys Store(42) and sets it to 5 in one broadcast,
// so the node receives two transactions from one sender back to back, as forge sends them.
pragma solidity 0.8.37;

import {Store} from "stele-contracts/Store.sol";

// The three cheatcodes used, declared here: forge-std is not installable offline.
interface Vm {
    function envUint(string calldata name) external view returns (uint256);
    function startBroadcast(uint256 privateKey) external;
    function stopBroadcast() external;
}

contract Deploy {
    Vm constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    function run() external returns (Store store) {
        vm.startBroadcast(vm.envUint("DEPLOYER_KEY"));
        store = new Store(42);
        store.set(5);
        vm.stopBroadcast();
    }
}
