// SPDX-License-Identifier: Apache-2.0
// The one contract every client scenario deploys: storage to read and write, an event to
// query and watch, and both revert kinds a dApp must decode (a custom error and Error(string)).
pragma solidity 0.8.37;

contract Store {
    /// Largest value `set` accepts; above it the call reverts with the custom error.
    uint256 public constant LIMIT = 1_000_000;

    uint256 public value;
    address public immutable owner;

    event ValueChanged(address indexed by, uint256 indexed oldValue, uint256 newValue);

    error TooLarge(uint256 given, uint256 limit);

    constructor(uint256 initial) {
        owner = msg.sender;
        value = initial;
        emit ValueChanged(msg.sender, 0, initial);
    }

    function set(uint256 newValue) external {
        if (newValue > LIMIT) revert TooLarge(newValue, LIMIT);
        require(newValue != 13, "unlucky number");
        emit ValueChanged(msg.sender, value, newValue);
        value = newValue;
    }
}
