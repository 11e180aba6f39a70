// SPDX-License-Identifier: Apache-2.0
// The ERC-20 the execution benchmark transfers: balances in a mapping at slot 0, a
// Transfer event per transfer, as OpenZeppelin's ERC20 does it. Compiled with npm's solc
// 0.8.37 (standard JSON: optimizer on, 200 runs, evmVersion prague); the runtime bytecode is
// BenchToken.bin-runtime.
pragma solidity ^0.8.20;

contract BenchToken {
    mapping(address => uint256) public balanceOf;
    event Transfer(address indexed from, address indexed to, uint256 value);
    error InsufficientBalance(address from, uint256 balance, uint256 needed);

    function transfer(address to, uint256 value) external returns (bool) {
        uint256 balance = balanceOf[msg.sender];
        if (balance < value) revert InsufficientBalance(msg.sender, balance, value);
        unchecked {
            balanceOf[msg.sender] = balance - value;
        }
        balanceOf[to] += value;
        emit Transfer(msg.sender, to, value);
        return true;
    }
}
