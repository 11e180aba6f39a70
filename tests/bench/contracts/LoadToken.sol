// SPDX-License-Identifier: Apache-2.0
// The ERC-20 `stele bench --workload erc20` transfers. Same storage layout and transfer as
// evm/benches/contracts/BenchToken.sol (balances at slot 0, a Transfer event per transfer),
// plus a permissionless `mintBatch` so the load generator can fund thousands of senders in a
// few transactions, and `totalSupply` so the bench can check that balances add up.
pragma solidity ^0.8.20;

contract LoadToken {
    mapping(address => uint256) public balanceOf;
    uint256 public totalSupply;
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

    /// Gives `value` to every holder; a bench token, so anyone may mint.
    function mintBatch(address[] calldata holders, uint256 value) external {
        for (uint256 i = 0; i < holders.length; i++) {
            balanceOf[holders[i]] += value;
            emit Transfer(address(0), holders[i], value);
        }
        totalSupply += value * holders.length;
    }
}
