// SPDX-License-Identifier: Apache-2.0
// Hyperledger Caliper's "simple" workload, `open` step: every call writes a fresh storage
// slot (a new account id), so the state grows with the load, unlike ERC-20 transfers that
// rewrite the same slots.
pragma solidity ^0.8.20;

contract OpenAccount {
    mapping(bytes32 => uint256) public balanceOf;
    event Opened(bytes32 indexed account, uint256 money);
    error AlreadyOpen(bytes32 account);

    function open(bytes32 account, uint256 money) external {
        if (balanceOf[account] != 0) revert AlreadyOpen(account);
        balanceOf[account] = money;
        emit Opened(account, money);
    }
}
