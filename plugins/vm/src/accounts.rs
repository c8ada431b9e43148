//! Users and groups of the VM: every named user and group gets an id from
//! 1000 up (in name order, so renders are stable), written to /etc/passwd
//! and /etc/group; numeric ones are used as they are.

use nix2dream_plugin_kit::Service;
use std::collections::BTreeMap;

pub const FIRST_ID: u32 = 1000;

pub struct Accounts {
    users: BTreeMap<String, u32>,
    groups: BTreeMap<String, u32>,
}

fn numeric(s: &str) -> Option<u32> {
    s.parse().ok().filter(|_| s.bytes().all(|b| b.is_ascii_digit()))
}

impl Accounts {
    pub fn of(services: &[Service]) -> Accounts {
        let mut users = BTreeMap::new();
        let mut groups = BTreeMap::new();
        for s in services {
            if let Some(u) = s.user.as_deref().filter(|u| numeric(u).is_none() && *u != "root") {
                users.insert(u.to_owned(), 0);
                // A user without a group gets its own (like useradd).
                if s.group.is_none() {
                    groups.insert(u.to_owned(), 0);
                }
            }
            if let Some(g) = s.group.as_deref().filter(|g| numeric(g).is_none() && *g != "root") {
                groups.insert(g.to_owned(), 0);
            }
        }
        for (id, uid) in (FIRST_ID..).zip(users.values_mut()) {
            *uid = id;
        }
        for (id, gid) in (FIRST_ID..).zip(groups.values_mut()) {
            *gid = id;
        }
        Accounts { users, groups }
    }

    fn uid(&self, user: &str) -> u32 {
        numeric(user).or_else(|| self.users.get(user).copied()).unwrap_or(0)
    }

    fn gid(&self, group: &str) -> u32 {
        numeric(group).or_else(|| self.groups.get(group).copied()).unwrap_or(0)
    }

    /// The service's uid and gid (root when unset; a named user's own group
    /// when only the user is set; group 0 for a numeric user, as Docker does).
    pub fn ids(&self, s: &Service) -> (u32, u32) {
        let uid = s.user.as_deref().map_or(0, |u| self.uid(u));
        let gid = match (&s.group, &s.user) {
            (Some(g), _) => self.gid(g),
            (None, Some(u)) if self.groups.contains_key(u) => self.gid(u),
            _ => 0,
        };
        (uid, gid)
    }

    pub fn passwd(&self) -> String {
        let mut text = "root:x:0:0:root:/root:/bin/sh\n".to_owned();
        for (name, uid) in &self.users {
            let gid = self.groups.get(name).copied().unwrap_or(0);
            text += &format!("{name}:x:{uid}:{gid}:{name}:/var/empty:/bin/sh\n");
        }
        text
    }

    pub fn group(&self) -> String {
        let mut text = "root:x:0:\n".to_owned();
        for (name, gid) in &self.groups {
            text += &format!("{name}:x:{gid}:\n");
        }
        text
    }
}
